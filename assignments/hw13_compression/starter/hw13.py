# %% [markdown]
# # **Homework 13: Network Compression**
#
# Objectives:
# * Train a very small model that performs well on Food-11 (at most the parameter budget).
# * Learn knowledge distillation: a small student network learns from a big teacher's outputs.
# * Design an efficient architecture: depthwise and pointwise convolutions.
#
# This is the ML2022 HW13 sample code, adapted to the course autograder:
# * the data is given to you (no download): `Food-11/{training,validation,evaluation}/` and the
#   teacher's weights `resnet18_teacher.ckpt` in `GRADE_DATA_DIR` (default: the current folder);
#   `submission.csv`, `student_best.ckpt` and the log go to `GRADE_OUTPUT_DIR` (default: the current folder);
# * images are 32x32 PNG files (the course's were JPEG photos resized to 256 and center-cropped to
#   224), named as in the course: `{label}_{index}.png` for training and validation, `{NNNN}.png`
#   (from 0000) for the evaluation set. The training and validation labels are crowd-sourced:
#   many of them are wrong. The teacher was trained by the course on verified labels;
# * torchvision and torchsummary are not installed: the transforms are plain functions written with
#   torch, the teacher `TeacherNet` is a small ResNet (the course's `torchvision.models.resnet18`
#   scaled down to 32x32 images) defined below, and `summary` counts parameters as torchsummary does;
# * the parameter budget is scaled with the data: **at most 25,000 parameters** here (the course:
#   100,000 on 224x224 photos), counted over every tensor of `student_best.ckpt` except BatchNorm's
#   running statistics; the student network is the course's at half its width, and `n_epochs` is
#   scaled so that the notebook runs in well under a minute on one CPU core. Unchanged, it reaches
#   the simple baseline.

# %%
import os

DATA_DIR = os.environ.get("GRADE_DATA_DIR", ".")
OUT_DIR = os.environ.get("GRADE_OUTPUT_DIR", ".")

# %%
# Import some useful packages for this homework
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import ConcatDataset, DataLoader, Subset, Dataset  # "ConcatDataset" and "Subset" are possibly useful

# CPU threads (the autograder sets OMP_NUM_THREADS).
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

# %% [markdown]
# ## **Configs**
# In this part, you can specify some variables and hyperparameters as your configs.

# %%
cfg = {
    'dataset_root': os.path.join(DATA_DIR, 'Food-11'),
    'teacher_ckpt': os.path.join(DATA_DIR, 'resnet18_teacher.ckpt'),
    'save_dir': OUT_DIR,
    'exp_name': "simple_baseline",
    'batch_size': 64,
    'lr': 3e-4,
    'seed': 20220013,
    'loss_fn_type': 'CE', # simple baseline: CE, medium baseline: KD. See the Knowledge_Distillation part for more information.
    'weight_decay': 1e-5,
    'grad_norm_max': 10,
    'n_epochs': 5, # train more steps to pass the medium baseline.
    'patience': 300,
}

# %%
myseed = cfg['seed']  # set a random seed for reproducibility
torch.backends.cudnn.deterministic = True
torch.backends.cudnn.benchmark = False
np.random.seed(myseed)
torch.manual_seed(myseed)
if torch.cuda.is_available():
    torch.cuda.manual_seed_all(myseed)

save_path = cfg['save_dir']  # the course: os.path.join(cfg['save_dir'], cfg['exp_name'])
os.makedirs(save_path, exist_ok=True)

# define simple logging functionality
log_fw = open(os.path.join(save_path, "log.txt"), 'w') # open log file to save log outputs
def log(text):     # define a logging function to trace the training process
    print(text)
    log_fw.write(str(text)+'\n')
    log_fw.flush()

log(cfg)  # log your configs to the log file

# %% [markdown]
# ## **Dataset**
# The course's dataset is a modified copy of HW3's Food-11 ("food11-hw13"); do not use HW3's files.
# Here: 1,320 training, 440 validation and 1,100 evaluation images of 32x32 pixels.

# %%
# The course: Resize(256) + CenterCrop(224) + ToTensor() + Normalize. The images are 32x32 already,
# and the teacher was trained on [0, 1] tensors of that size: keep test_tfm as it is.
IMG_SIZE = 32

# define evaluation transform: a PIL image -> a [3, 32, 32] float tensor in [0, 1]
def test_tfm(img):
    x = torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0)   # transforms.ToTensor
    return x.permute(2, 0, 1).contiguous()                                           # [3, 32, 32]

# define training transform
def train_tfm(img):
    # add some useful transform or augmentation here, according to your experience in HW3.
    # The input size of the provided teacher model is (3, 32, 32): other sizes might hurt it.
    x = test_tfm(img)
    if torch.rand(1).item() < 0.5:   # transforms.RandomHorizontalFlip(), you can change this.
        x = torch.flip(x, dims=[2])
    return x

# %%
class FoodDataset(Dataset):
    def __init__(self, path, tfm=test_tfm, files = None):
        super().__init__()
        self.path = path
        self.files = sorted([os.path.join(path,x) for x in os.listdir(path) if x.endswith(".png")])
        if files != None:
            self.files = files
        print(f"One {path} sample",self.files[0])
        self.transform = tfm

    def __len__(self):
        return len(self.files)

    def __getitem__(self,idx):
        fname = self.files[idx]
        im = Image.open(fname)
        im = self.transform(im)
        try:
            label = int(fname.split("/")[-1].split("_")[0])
        except:
            label = -1 # test has no label
        return im,label

# %%
# Form train/valid dataloaders
train_set = FoodDataset(os.path.join(cfg['dataset_root'],"training"), tfm=train_tfm)
train_loader = DataLoader(train_set, batch_size=cfg['batch_size'], shuffle=True, num_workers=0, pin_memory=False)

valid_set = FoodDataset(os.path.join(cfg['dataset_root'], "validation"), tfm=test_tfm)
valid_loader = DataLoader(valid_set, batch_size=cfg['batch_size'], shuffle=False, num_workers=0, pin_memory=False)

# %% [markdown]
# ## **Architecture_Design**
#
# In this homework, you have to design a smaller network and make it perform well. Apparently, a
# well-designed architecture is crucial for such task. Here, we introduce the depthwise and pointwise
# convolution. These variants of convolution are some common techniques for architecture design when
# it comes to network compression.
#
# * Depthwise convolution: `nn.Conv2d(in_chs, in_chs, kernel_size, stride, padding, groups=in_chs)`
#   — one filter per channel, no mixing between channels.
# * Pointwise convolution: `nn.Conv2d(in_chs, out_chs, 1)` — a 1x1 convolution that mixes channels.
# * Other useful techniques: group convolution (ShuffleNet), channel pruning, GhostNet, MobileNet.
#
# **Notice**: the parameter budget is counted from `student_best.ckpt` (every tensor except
# BatchNorm's running statistics, so non-trainable parameters count too; an ensemble sums its
# members). Over the budget (here 25,000) the homework scores 0.

# %%
# Example implementation of Depthwise and Pointwise Convolution
def dwpw_conv(in_channels, out_channels, kernel_size, stride=1, padding=0):
    return nn.Sequential(
        nn.Conv2d(in_channels, in_channels, kernel_size, stride=stride, padding=padding, groups=in_channels), #depthwise convolution
        nn.Conv2d(in_channels, out_channels, 1), # pointwise convolution
    )

# %% [markdown]
# ## **Model**
#
# The student model is what you submit. `get_student_model()` must take no argument and return the
# network whose state dict is `student_best.ckpt`: the graders call it and reload your checkpoint
# into it with `strict=True`.

# %%
# Define your student network here. You have to copy-paste this code block to HW13 GradeScope before deadline.
# We will use your student network definition to evaluate your results(including the total parameter amount).

class StudentNet(nn.Module):
    def __init__(self):
      super().__init__()

      # ---------- TODO ----------
      # Modify your model architecture
      # (the course's widths 32/32/64/100 at half: 16/16/32/50 for the 32x32 images)

      self.cnn = nn.Sequential(
        nn.Conv2d(3, 16, 3),      # [16, 30, 30]
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3),     # [16, 28, 28]
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2, 2, 0),    # [16, 14, 14]

        nn.Conv2d(16, 32, 3),     # [32, 12, 12]
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2, 2, 0),    # [32, 6, 6]

        nn.Conv2d(32, 50, 3),     # [50, 4, 4]
        nn.BatchNorm2d(50),
        nn.ReLU(),
        nn.MaxPool2d(2, 2, 0),    # [50, 2, 2]

        # Here we adopt Global Average Pooling for various input size.
        nn.AdaptiveAvgPool2d((1, 1)),
      )
      self.fc = nn.Sequential(
        nn.Linear(50, 11),
      )

    def forward(self, x):
      out = self.cnn(x)
      out = out.view(out.size()[0], -1)
      return self.fc(out)

def get_student_model(): # This function should have no arguments so that we can get your student network by directly calling it.
    # you can modify or do anything here, just remember to return an nn.Module as your student network.
    return StudentNet()

# End of definition of your student model and the get_student_model API
# Please copy-paste the whole code block, including the get_student_model function.

# %% [markdown]
# After specifying the student model, you can use `summary` to get the information of your student
# model: the number of parameters must stay within the budget (torchsummary is not installed here:
# this counts what torchsummary counts, trainable or not).

# %%
PARAM_BUDGET = 25_000

def summary(model):
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"Total params: {total:,}\nTrainable params: {trainable:,}\nNon-trainable params: {total - trainable:,}")
    return total

# DO NOT modify this block and please make sure that this block can run sucessfully.
student_model = get_student_model()
assert summary(student_model) <= PARAM_BUDGET, "the student model is over the parameter budget"

# %% [markdown]
# ## **Teacher**
# The course's teacher is torchvision's ResNet-18 (11,182,155 parameters, accuracy ~0.899). Here it is
# `TeacherNet`, a small ResNet of the same kind (a stem, residual stages of BasicBlocks, global
# average pooling), trained by the course on the verified labels. Load its weights, do not train it.

# %%
class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)

class TeacherNet(nn.Module):
    def __init__(self, num_classes=11):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                                  nn.MaxPool2d(2))            # [32, 16, 16]
        self.layer1 = BasicBlock(32, 32, 1)                    # [32, 16, 16]
        self.layer2 = BasicBlock(32, 64, 2)                    # [64, 8, 8]
        self.layer3 = BasicBlock(64, 128, 2)                   # [128, 4, 4]
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(128, num_classes)

    def features(self, x):  # [B, 128, 4, 4]: useful for feature-based distillation (FitNet)
        return self.layer3(self.layer2(self.layer1(self.stem(x))))

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))

# %%
# load state dict
teacher_model = TeacherNet(num_classes=11)
teacher_model.load_state_dict(torch.load(cfg['teacher_ckpt'], map_location='cpu'))
summary(teacher_model)

# %% [markdown]
# ## **Knowledge_Distillation**
#
# Since we have a learned big model, let it teach the other small model. In implementation, use
# the soft labels produced by the teacher model as the target of the student model:
#
# $$Loss = \alpha T^2 \times KL\left(\frac{\text{Teacher's Logits}}{T} \,\Big\|\, \frac{\text{Student's Logits}}{T}\right) + (1-\alpha)(\text{Original Cross Entropy Loss})$$
#
# (the KL divergence between the teacher's and the student's softmax at temperature T, averaged
# over the batch — `nn.KLDivLoss(reduction='batchmean')` on the student's log-probabilities).
# The graders call your `loss_fn_kd(student_logits, labels, teacher_logits, alpha, temperature)` on
# logits you have not seen and compare it with this formula (the report's question).

# %%
# Implement the loss function with KL divergence loss for knowledge distillation.
# You also have to copy-paste this whole block to HW13 GradeScope.
def loss_fn_kd(student_logits, labels, teacher_logits, alpha=0.5, temperature=1.0):
    # ------------TODO-------------
    # Refer to the above formula and finish the loss function for knowkedge distillation using KL divergence loss and CE loss.
    # If you have no idea, please take a look at the provided useful link above.
    pass

# %%
# choose the loss function by the config
if cfg['loss_fn_type'] == 'CE':
    # For the classification task, we use cross-entropy as the default loss function.
    loss_fn = nn.CrossEntropyLoss() # loss function for simple baseline.

if cfg['loss_fn_type'] == 'KD': # KD stands for knowledge distillation
    loss_fn = loss_fn_kd # implement kd loss function for the medium baseline.

# You can also adopt other types of knowledge distillation techniques for strong and boss baseline, but use function name other than `loss_fn_kd`
# For example:
# def loss_fn_custom_kd():
#     pass
# if cfg['loss_fn_type'] == 'custom_kd':
#     loss_fn = loss_fn_custom_kd

# also, there is no means to modify the "loss_fn_type" in this notebook: change it in the cfg above.
log(f"{cfg['loss_fn_type']} is used as the loss function")

# %% [markdown]
# ## **Training**

# %%
# "cuda" only when GPUs are available.
device = "cuda" if torch.cuda.is_available() else "cpu"
log(f"device: {device}")

# The number of training epochs and patience.
n_epochs = cfg['n_epochs']
patience = cfg['patience'] # If no improvement in 'patience' epochs, early stop

# %%
# Initialize a model, and put it on the device specified.
student_model.to(device)
teacher_model.to(device) # MEDIUM BASELINE

# Initialize optimizer, you may fine-tune some hyperparameters such as learning rate on your own.
optimizer = torch.optim.Adam(student_model.parameters(), lr=cfg['lr'], weight_decay=cfg['weight_decay'])

# Initialize trackers, these are not parameters and should not be changed
stale = 0
best_acc = 0.0

teacher_model.eval()  # MEDIUM BASELINE
for epoch in range(n_epochs):

    # ---------- Training ----------
    # Make sure the model is in train mode before training.
    student_model.train()

    # These are used to record information in training.
    train_loss = []
    train_accs = []
    train_lens = []

    for batch in train_loader:

        # A batch consists of image data and corresponding labels.
        imgs, labels = batch
        imgs = imgs.to(device)
        labels = labels.to(device)

        # Forward the data. (Make sure data and model are on the same device.)
        with torch.no_grad():  # MEDIUM BASELINE
            teacher_logits = teacher_model(imgs)  # MEDIUM BASELINE

        logits = student_model(imgs)

        # Calculate the cross-entropy loss.
        # We don't need to apply softmax before computing cross-entropy as it is done automatically.
        loss = loss_fn(logits, labels) if cfg['loss_fn_type'] == 'CE' else loss_fn(logits, labels, teacher_logits) # MEDIUM BASELINE

        # Gradients stored in the parameters in the previous step should be cleared out first.
        optimizer.zero_grad()

        # Compute the gradients for parameters.
        loss.backward()

        # Clip the gradient norms for stable training.
        grad_norm = nn.utils.clip_grad_norm_(student_model.parameters(), max_norm=cfg['grad_norm_max'])

        # Update the parameters with computed gradients.
        optimizer.step()

        # Compute the accuracy for current batch.
        acc = (logits.argmax(dim=-1) == labels).float().sum()

        # Record the loss and accuracy.
        train_batch_len = len(imgs)
        train_loss.append(loss.item() * train_batch_len)
        train_accs.append(acc)
        train_lens.append(train_batch_len)

    train_loss = sum(train_loss) / sum(train_lens)
    train_acc = sum(train_accs) / sum(train_lens)

    # Print the information.
    log(f"[ Train | {epoch + 1:03d}/{n_epochs:03d} ] loss = {train_loss:.5f}, acc = {train_acc:.5f}")

    # ---------- Validation ----------
    # Make sure the model is in eval mode so that some modules like dropout are disabled and work normally.
    student_model.eval()

    # These are used to record information in validation.
    valid_loss = []
    valid_accs = []
    valid_lens = []

    # Iterate the validation set by batches.
    for batch in valid_loader:

        # A batch consists of image data and corresponding labels.
        imgs, labels = batch
        imgs = imgs.to(device)
        labels = labels.to(device)

        # We don't need gradient in validation.
        # Using torch.no_grad() accelerates the forward process.
        with torch.no_grad():
            logits = student_model(imgs)
            teacher_logits = teacher_model(imgs) # MEDIUM BASELINE

        # We can still compute the loss (but not the gradient).
        loss = loss_fn(logits, labels) if cfg['loss_fn_type'] == 'CE' else loss_fn(logits, labels, teacher_logits) # MEDIUM BASELINE

        # Compute the accuracy for current batch.
        acc = (logits.argmax(dim=-1) == labels).float().sum()

        # Record the loss and accuracy.
        batch_len = len(imgs)
        valid_loss.append(loss.item() * batch_len)
        valid_accs.append(acc)
        valid_lens.append(batch_len)

    # The average loss and accuracy for entire validation set is the average of the recorded values.
    valid_loss = sum(valid_loss) / sum(valid_lens)
    valid_acc = sum(valid_accs) / sum(valid_lens)

    # update logs
    if valid_acc > best_acc:
        log(f"[ Valid | {epoch + 1:03d}/{n_epochs:03d} ] loss = {valid_loss:.5f}, acc = {valid_acc:.5f} -> best")
    else:
        log(f"[ Valid | {epoch + 1:03d}/{n_epochs:03d} ] loss = {valid_loss:.5f}, acc = {valid_acc:.5f}")

    # save models
    if valid_acc > best_acc:
        log(f"Best model found at epoch {epoch}, saving model")
        torch.save(student_model.state_dict(), f"{save_path}/student_best.ckpt") # only save best to prevent output memory exceed error
        best_acc = valid_acc
        stale = 0
    else:
        stale += 1
        if stale > patience:
            log(f"No improvment {patience} consecutive epochs, early stopping")
            break
log("Finish training")
log_fw.close()

# %% [markdown]
# ## **Inference**
# Load the best model of your experiment and predict the evaluation set.

# %%
# create dataloader for evaluation
eval_set = FoodDataset(os.path.join(cfg['dataset_root'], "evaluation"), tfm=test_tfm)
eval_loader = DataLoader(eval_set, batch_size=cfg['batch_size'], shuffle=False, num_workers=0, pin_memory=False)

# %%
# Load model from {exp_name}/student_best.ckpt
student_model_best = get_student_model() # get a new student model to avoid reference before assignment.
ckpt_path = f"{save_path}/student_best.ckpt" # the ckpt path of the best student model.
student_model_best.load_state_dict(torch.load(ckpt_path, map_location='cpu')) # load the state dict and set it to the student model
student_model_best.to(device) # set the student model to device

# Start evaluate
student_model_best.eval()
eval_preds = [] # storing predictions of the evaluation dataset

# Iterate the validation set by batches.
for batch in eval_loader:
    # A batch consists of image data and corresponding labels.
    imgs, _ = batch
    # We don't need gradient in evaluation.
    # Using torch.no_grad() accelerates the forward process.
    with torch.no_grad():
        logits = student_model_best(imgs.to(device))
        preds = list(logits.argmax(dim=-1).squeeze().cpu().numpy())
    # loss and acc can not be calculated because we do not have the true labels of the evaluation set.
    eval_preds += preds

def pad4(i):
    return "0"*(4-len(str(i))) + str(i)

# Save prediction results
ids = [pad4(i) for i in range(0,len(eval_set))]
categories = eval_preds

with open(os.path.join(OUT_DIR, 'submission.csv'), 'w') as f:
    f.write('Id,Category\n')
    for i, pred in zip(ids, categories):
        f.write(f'{i},{pred}\n')

# %% [markdown]
# # **Submission**
# * Upload `submission.csv` to the leaderboard (`grade submit hw13 submission.csv`).
# * Hand in this notebook together with `student_best.ckpt` (the course: a COOL zip with your code and
#   `student_best.ckpt`): the graders re-run the notebook, reload the checkpoint with `strict=True`
#   into `get_student_model()`, count its parameters and check that it reproduces your chosen submission.
#
# # **Reference**
# This notebook follows the ML2022 HW13 sample code (Hung-yi Lee, NTU). The Food-11 photos of the
# course are replaced by HW3's procedurally drawn dishes, with crowd-sourced (noisy) labels.
