# %% [markdown]
# # **Homework 10 - Adversarial Attack**
#
# Slides: https://reurl.cc/7DDxnD
#
# Contact: ntu-ml-2022spring-ta@googlegroups.com
#
# This is the ML2022 HW10 sample code, adapted to the course autograder:
# * nothing is downloaded: the 200 benign images (`data/<class>/<class><id>.png`) and the proxy models
#   come with the homework, in `GRADE_DATA_DIR` (default: the current folder). Your adversarial images
#   and `submission.tgz` go to `GRADE_OUTPUT_DIR` (default: the current folder);
# * `pytorchcv` is not installed and cannot download: `proxy_models.py` is its stand-in. Its
#   `get_model` (imported as `ptcv_get_model`, as in the course) loads the course's proxy zoo from
#   `models/` (see `models/README.md`); the models are small so that an attack runs in seconds on a CPU;
# * torchvision is not installed: `transform` (ToTensor + Normalize) is written with torch;
# * the shell cells (`!tar`) are Python (`tarfile`), and one archive, `submission.tgz`, is what you
#   submit: it holds the folder named by `adv_dir` in "Compress the images" (the FGSM images unless you
#   change it). Unchanged, the notebook reaches the simple baseline;
# * the report's JPEG question uses PIL (imgaug is not installed).
#
# Keep `fgsm` and `ifgsm` as top-level functions with the sample code's arguments, and leave the
# notebook runnable from top to bottom on a CPU: the graders re-run it, compare its `submission.tgz` with
# yours, and call `fgsm` and `ifgsm` on a model and images you have not seen.

# %% [markdown]
# ## Environment & Download
#
# The course installed `pytorchcv` and `imgaug` and downloaded `data.zip` here. In this course the data
# is already next to the notebook.

# %%
import os
import sys

DATA_DIR = os.environ.get("GRADE_DATA_DIR", ".")
OUT_DIR = os.environ.get("GRADE_OUTPUT_DIR", ".")
sys.path.insert(0, os.path.abspath(DATA_DIR))  # proxy_models.py, the pytorchcv stand-in

# %%
import torch
import torch.nn as nn

# CPU threads (the autograder sets OMP_NUM_THREADS).
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

# %% [markdown]
# ## Global Settings
# #### **[NOTE]**: Don't change the settings here, or your generated image might not meet the constraint.
# * $\epsilon$ is fixed to be 8. But on **Data section**, we will first apply transforms on raw pixel value (0-255 scale) **by ToTensor (to 0-1 scale)** and then **Normalize (subtract mean divide std)**. $\epsilon$ should be set to $\frac{8}{255 * std}$ during attack.
#
# * Explaination (optional)
#     * Denote the first pixel of original image as $p$, and the first pixel of adversarial image as $a$.
#     * The $\epsilon$ constraints tell us $\left| p-a \right| <= 8$.
#     * ToTensor() can be seen as a function where $T(x) = x/255$.
#     * Normalize() can be seen as a function where $N(x) = (x-mean)/std$ where $mean$ and $std$ are constants.
#     * After applying ToTensor() and Normalize() on $p$ and $a$, the constraint becomes $\left| N(T(p))-N(T(a)) \right| = \left| \frac{\frac{p}{255}-mean}{std}-\frac{\frac{a}{255}-mean}{std} \right| = \frac{1}{255 * std} \left| p-a \right| <= \frac{8}{255 * std}.$
#     * So, we should set $\epsilon$ to be $\frac{8}{255 * std}$ after ToTensor() and Normalize().

# %%
device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
batch_size = 8

# the mean and std are the calculated statistics from cifar_10 dataset
cifar_10_mean = (0.491, 0.482, 0.447) # mean for the three channels of cifar_10 images
cifar_10_std = (0.202, 0.199, 0.201) # std for the three channels of cifar_10 images

# convert mean and std to 3-dimensional tensors for future operations
mean = torch.tensor(cifar_10_mean).to(device).view(3, 1, 1)
std = torch.tensor(cifar_10_std).to(device).view(3, 1, 1)

epsilon = 8/255/std

# %%
root = os.path.join(DATA_DIR, 'data') # directory for storing benign images
# benign images: images which do not contain adversarial perturbations
# adversarial images: images which include adversarial perturbations

# %% [markdown]
# ## Data
#
# Construct dataset and dataloader from root directory. Note that we store the filename of each image for future usage.

# %%
import glob
import shutil
import numpy as np
from PIL import Image
from torch.utils.data import Dataset, DataLoader

# transforms.Compose([transforms.ToTensor(), transforms.Normalize(cifar_10_mean, cifar_10_std)]), in torch
def transform(img):
    x = torch.from_numpy(np.array(img.convert('RGB'), dtype=np.uint8)).permute(2, 0, 1).float().div(255) # ToTensor
    return (x - torch.tensor(cifar_10_mean).view(3, 1, 1)) / torch.tensor(cifar_10_std).view(3, 1, 1) # Normalize

class AdvDataset(Dataset):
    def __init__(self, data_dir, transform):
        self.images = []
        self.labels = []
        self.names = []
        '''
        data_dir
        ├── class_dir
        │   ├── class1.png
        │   ├── ...
        │   ├── class20.png
        '''
        for i, class_dir in enumerate(sorted(glob.glob(f'{data_dir}/*'))):
            images = sorted(glob.glob(f'{class_dir}/*'))
            self.images += images
            self.labels += ([i] * len(images))
            self.names += [os.path.relpath(imgs, data_dir) for imgs in images]
        self.transform = transform
    def __getitem__(self, idx):
        image = self.transform(Image.open(self.images[idx]))
        label = self.labels[idx]
        return image, label
    def __getname__(self):
        return self.names
    def __len__(self):
        return len(self.images)

adv_set = AdvDataset(root, transform=transform)
adv_names = adv_set.__getname__()
adv_loader = DataLoader(adv_set, batch_size=batch_size, shuffle=False)

print(f'number of images = {adv_set.__len__()}')

# %% [markdown]
# ## Utils -- Benign Images Evaluation

# %%
# to evaluate the performance of model on benign images
def epoch_benign(model, loader, loss_fn):
    model.eval()
    train_acc, train_loss = 0.0, 0.0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        yp = model(x)
        loss = loss_fn(yp, y)
        train_acc += (yp.argmax(dim=1) == y).sum().item()
        train_loss += loss.item() * x.shape[0]
    return train_acc / len(loader.dataset), train_loss / len(loader.dataset)

# %% [markdown]
# ## Utils -- Attack Algorithm

# %%
# perform fgsm attack
def fgsm(model, x, y, loss_fn, epsilon=epsilon):
    x_adv = x.detach().clone() # initialize x_adv as original benign image x
    x_adv.requires_grad = True # need to obtain gradient of x_adv, thus set required grad
    loss = loss_fn(model(x_adv), y) # calculate loss
    loss.backward() # calculate gradient
    # fgsm: use gradient ascent on x_adv to maximize loss
    grad = x_adv.grad.detach()
    x_adv = x_adv + epsilon * grad.sign()
    return x_adv

# alpha and num_iter can be decided by yourself
alpha = 0.8/255/std
def ifgsm(model, x, y, loss_fn, epsilon=epsilon, alpha=alpha, num_iter=20):
    x_adv = x
    # write a loop of num_iter to represent the iterative times
    for i in range(num_iter):
        # x_adv = fgsm(model, x_adv, y, loss_fn, alpha) # call fgsm with (epsilon = alpha) to obtain new x_adv
        x_adv = x_adv.detach().clone()
        x_adv.requires_grad = True # need to obtain gradient of x_adv, thus set required grad
        loss = loss_fn(model(x_adv), y) # calculate loss
        loss.backward() # calculate gradient
        # fgsm: use gradient ascent on x_adv to maximize loss
        grad = x_adv.grad.detach()
        x_adv = x_adv + alpha * grad.sign()

        x_adv = torch.max(torch.min(x_adv, x+epsilon), x-epsilon) # clip new x_adv back to [x-epsilon, x+epsilon]
    return x_adv

def mifgsm(model, x, y, loss_fn, epsilon=epsilon, alpha=alpha, num_iter=20, decay=1.0):
    x_adv = x
    # initialze momentum tensor
    momentum = torch.zeros_like(x).detach().to(device)
    # write a loop of num_iter to represent the iterative times
    for i in range(num_iter):
        x_adv = x_adv.detach().clone()
        x_adv.requires_grad = True # need to obtain gradient of x_adv, thus set required grad
        loss = loss_fn(model(x_adv), y) # calculate loss
        loss.backward() # calculate gradient
        # TODO: Momentum calculation
        # grad = .....
        x_adv = x_adv + alpha * grad.sign()
        x_adv = torch.max(torch.min(x_adv, x+epsilon), x-epsilon) # clip new x_adv back to [x-epsilon, x+epsilon]
    return x_adv

def dim_mifgsm(model, x, y, loss_fn, epsilon=epsilon, alpha=alpha, num_iter=50, decay=1.0, p=0.5):
    x_adv = x
    # initialze momentum tensor
    momentum = torch.zeros_like(x).detach().to(device)
    # write a loop of num_iter to represent the iterative times
    for i in range(num_iter):
        x_adv = x_adv.detach().clone()
        x_adv.requires_grad = True # need to obtain gradient of x_adv, thus set required grad
        # TODO: Diverse input: with probability p, resize x_adv to a random size (smaller than 32x32) and pad
        # it back to 32x32 at a random place before the forward pass (torch.nn.functional.interpolate, pad)
        x_div = x_adv
        loss = loss_fn(model(x_div), y) # calculate loss
        loss.backward() # calculate gradient
        # TODO: Momentum calculation
        # grad = .....
        x_adv = x_adv + alpha * grad.sign()
        x_adv = torch.max(torch.min(x_adv, x+epsilon), x-epsilon) # clip new x_adv back to [x-epsilon, x+epsilon]
    return x_adv

# %% [markdown]
# ## Utils -- Attack
# * Recall
#   * ToTensor() can be seen as a function where $T(x) = x/255$.
#   * Normalize() can be seen as a function where $N(x) = (x-mean)/std$ where $mean$ and $std$ are constants.
#
# * Inverse function
#   * Inverse Normalize() can be seen as a function where $N^{-1}(x) = x*std+mean$ where $mean$ and $std$ are constants.
#   * Inverse ToTensor() can be seen as a function where $T^{-1}(x) = x*255$.
#
# * Special Noted
#   * ToTensor() will also convert the image from shape (height, width, channel) to shape (channel, height, width), so we also need to transpose the shape back to original shape.
#   * Since our dataloader samples a batch of data, what we need here is to transpose **(batch_size, channel, height, width)** back to **(batch_size, height, width, channel)** using np.transpose.

# %%
# perform adversarial attack and generate adversarial examples
def gen_adv_examples(model, loader, attack, loss_fn):
    model.eval()
    adv_names = []
    train_acc, train_loss = 0.0, 0.0
    for i, (x, y) in enumerate(loader):
        x, y = x.to(device), y.to(device)
        x_adv = attack(model, x, y, loss_fn) # obtain adversarial examples
        yp = model(x_adv)
        loss = loss_fn(yp, y)
        train_acc += (yp.argmax(dim=1) == y).sum().item()
        train_loss += loss.item() * x.shape[0]
        # store adversarial examples
        adv_ex = ((x_adv) * std + mean).clamp(0, 1) # to 0-1 scale
        adv_ex = (adv_ex * 255).clamp(0, 255) # 0-255 scale
        adv_ex = adv_ex.detach().cpu().data.numpy().round() # round to remove decimal part
        adv_ex = adv_ex.transpose((0, 2, 3, 1)) # transpose (bs, C, H, W) back to (bs, H, W, C)
        adv_examples = adv_ex if i == 0 else np.r_[adv_examples, adv_ex]
    return adv_examples, train_acc / len(loader.dataset), train_loss / len(loader.dataset)

# create directory which stores adversarial examples
def create_dir(data_dir, adv_dir, adv_examples, adv_names):
    if os.path.exists(adv_dir) is not True:
        _ = shutil.copytree(data_dir, adv_dir)
    for example, name in zip(adv_examples, adv_names):
        im = Image.fromarray(example.astype(np.uint8)) # image pixel value should be unsigned int
        im.save(os.path.join(adv_dir, name))

# %% [markdown]
# ## Model / Loss Function
#
# The course's model list is pytorchcv's (models with the _cifar10 suffix). Here the proxy zoo is in
# `models/`: `models/README.md` lists every model, its family and how it was trained. The TA's model is
# not among them.

# %%
from proxy_models import get_model as ptcv_get_model

model = ptcv_get_model('resnet8_cifar10', pretrained=True).to(device)
loss_fn = nn.CrossEntropyLoss()

benign_acc, benign_loss = epoch_benign(model, adv_loader, loss_fn)
print(f'benign_acc = {benign_acc:.5f}, benign_loss = {benign_loss:.5f}')

# %% [markdown]
# ## FGSM

# %%
adv_examples, fgsm_acc, fgsm_loss = gen_adv_examples(model, adv_loader, fgsm, loss_fn)
print(f'fgsm_acc = {fgsm_acc:.5f}, fgsm_loss = {fgsm_loss:.5f}')

create_dir(root, os.path.join(OUT_DIR, 'fgsm'), adv_examples, adv_names)

# %% [markdown]
# ## I-FGSM

# %%
# TODO: iterative fgsm attack
adv_examples, ifgsm_acc, ifgsm_loss = gen_adv_examples(model, adv_loader, ifgsm, loss_fn)
print(f'ifgsm_acc = {ifgsm_acc:.5f}, ifgsm_loss = {ifgsm_loss:.5f}')

create_dir(root, os.path.join(OUT_DIR, 'ifgsm'), adv_examples, adv_names)

# %% [markdown]
# ## Compress the images
# The course: `%cd fgsm`, `!tar zcvf ../fgsm.tgz *`. The archive holds the class folders at its top
# (`airplane/airplane1.png`, ...). Set `adv_dir` to the folder of the images you submit.

# %%
import tarfile

def compress(adv_dir, tgz):
    with tarfile.open(tgz, 'w:gz') as tar:
        for class_dir in sorted(os.listdir(adv_dir)):
            tar.add(os.path.join(adv_dir, class_dir), arcname=class_dir)

adv_dir = 'fgsm' # TODO: the folder of the adversarial examples you submit
compress(os.path.join(OUT_DIR, adv_dir), os.path.join(OUT_DIR, 'submission.tgz'))

# %% [markdown]
# ## Example of Ensemble Attack
# * Ensemble multiple models as your proxy model to increase the black-box transferability ([paper](https://arxiv.org/abs/1611.02770))

# %%
class ensembleNet(nn.Module):
    def __init__(self, model_names):
        super().__init__()
        self.models = nn.ModuleList([ptcv_get_model(name, pretrained=True) for name in model_names])
        self.softmax = nn.Softmax(dim=1)
    def forward(self, x):
        ensemble_logits = None
        for i, m in enumerate(self.models):
            # TODO: sum up logits from multiple models
            pass
        return ensemble_logits

# %% [markdown]
# * Construct your ensemble model

# %%
model_names = [
    'nin_cifar10',
    'resnet8_cifar10',
    'preresnet8_cifar10'
]
ensemble_model = ensembleNet(model_names).to(device)
ensemble_model.eval()

# %% [markdown]
# ## Visualization

# %%
import matplotlib
matplotlib.use('Agg') # no display in the autograder; plt.show() is a no-op there
import matplotlib.pyplot as plt

classes = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']

plt.figure(figsize=(10, 20))
cnt = 0
for i, cls_name in enumerate(classes):
    path = f'{cls_name}/{cls_name}1.png'
    # benign image
    cnt += 1
    plt.subplot(len(classes), 4, cnt)
    im = Image.open(os.path.join(root, path))
    logit = model(transform(im).unsqueeze(0).to(device))[0]
    predict = logit.argmax(-1).item()
    prob = logit.softmax(-1)[predict].item()
    plt.title(f'benign: {cls_name}1.png\n{classes[predict]}: {prob:.2%}')
    plt.axis('off')
    plt.imshow(np.array(im))
    # adversarial image
    cnt += 1
    plt.subplot(len(classes), 4, cnt)
    im = Image.open(os.path.join(OUT_DIR, 'fgsm', path))
    logit = model(transform(im).unsqueeze(0).to(device))[0]
    predict = logit.argmax(-1).item()
    prob = logit.softmax(-1)[predict].item()
    plt.title(f'adversarial: {cls_name}1.png\n{classes[predict]}: {prob:.2%}')
    plt.axis('off')
    plt.imshow(np.array(im))
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Report Question
# * Make sure you follow below setup: the source model is "resnet8_cifar10" (the course: "resnet110_cifar10"), applying the vanilla fgsm attack on `dog2.png`. You can find the perturbed image in `fgsm/dog2.png`.

# %%
# original image
path = f'dog/dog2.png'
im = Image.open(os.path.join(root, path))
logit = model(transform(im).unsqueeze(0).to(device))[0]
predict = logit.argmax(-1).item()
prob = logit.softmax(-1)[predict].item()
plt.title(f'benign: dog2.png\n{classes[predict]}: {prob:.2%}')
plt.axis('off')
plt.imshow(np.array(im))
plt.tight_layout()
plt.show()

# adversarial image
adv_im = Image.open(os.path.join(OUT_DIR, 'fgsm', path))
logit = model(transform(adv_im).unsqueeze(0).to(device))[0]
predict = logit.argmax(-1).item()
prob = logit.softmax(-1)[predict].item()
plt.title(f'adversarial: dog2.png\n{classes[predict]}: {prob:.2%}')
plt.axis('off')
plt.imshow(np.array(adv_im))
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Passive Defense - JPEG compression
# JPEG compression by imgaug package, compression rate set to 70
#
# Reference: https://imgaug.readthedocs.io/en/latest/source/api_augmenters_arithmetic.html#imgaug.augmenters.arithmetic.JpegCompression
#
# imgaug is not installed here: PIL's JPEG encoder does the same job (imgaug's compression 70 is
# roughly PIL quality 30).

# %%
import io

# pre-process image
x = np.array(adv_im.convert('RGB')).astype(np.uint8)

# TODO: use PIL to perform JPEG compression (imgaug's compression rate = 70)
# buf = io.BytesIO(); Image.fromarray(x).save(buf, format='JPEG', quality=...); compressed_x = Image.open(buf)
compressed_x = Image.fromarray(x)

logit = model(transform(compressed_x).unsqueeze(0).to(device))[0]
predict = logit.argmax(-1).item()
prob = logit.softmax(-1)[predict].item()
plt.title(f'JPEG adversarial: dog2.png\n{classes[predict]}: {prob:.2%}')
plt.axis('off')
plt.imshow(np.array(compressed_x))
plt.tight_layout()
plt.show()
