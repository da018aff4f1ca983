# %% [markdown]
# # **Homework 12 - Reinforcement Learning**
#
# If you have any problem, e-mail us at ntu-ml-2022spring-ta@googlegroups.com
#
# ## Preliminary work
#
# In this homework you implement a policy-gradient agent that learns to land the lunar lander of
# [gymnasium](https://gymnasium.farama.org/environments/box2d/lunar_lander/) ("gym" in 2022). The
# environment has an 8-dimensional state and 4 discrete actions; "solved" is a total reward of 200.
#
# This is the ML2022 HW12 sample code, adapted to the course autograder:
# * the environment is gymnasium's `LunarLander-v3` (the maintained successor of gym's `LunarLander-v2`;
#   the same task and rewards). `gym`'s `env.seed(seed)` became `env.reset(seed=seed)`, `env.step`
#   returns `terminated, truncated` instead of `done`, and nothing is rendered (no display; the
#   `plt.imshow(env.render(...))` cells are gone);
# * **what you submit is your policy network**: the notebook saves `network.state_dict()` to
#   `GRADE_OUTPUT_DIR/policy.pt` (default: the current folder). The course plays it on the host, on
#   hidden episode seeds, with its own copy of the forward pass of `PolicyGradientNetwork` (fc1…fcN,
#   tanh between the layers, softmax at the end), so keep that form: you may change the hidden
#   widths and add layers `fc4`, `fc5`, … but the input stays 8 and the output 4;
# * the sample's `PolicyGradientNetwork.forward` skipped `fc2` (`hid = torch.tanh(hid)`); here it is used,
#   as the course's grader uses every layer you save;
# * the accumulated discounted reward is a function, `accumulated_discounted_reward`, which the hidden
#   tests call (the sample code inlined it in a comment);
# * `Action_List.npy` (the 2022 JudgeBoi file) is still written, for comparison with 2022 only;
# * no GPU, one CPU core: the sample's `NUM_BATCH = 500` is 60 here, so that the notebook trains in
#   a few seconds. Unchanged, it reaches the simple baseline.

# %%
import os

DATA_DIR = os.environ.get("GRADE_DATA_DIR", ".")
OUT_DIR = os.environ.get("GRADE_OUTPUT_DIR", ".")

# %% [markdown]
# Next, set up the environment and import the packages we need (the course image already has
# `gymnasium[box2d]`: nothing to install).

# %%
import random

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.distributions import Categorical

# CPU threads (the autograder sets OMP_NUM_THREADS).
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

# %%
seed = 543 # Do not change this
def fix(env, seed):
  env.reset(seed=seed)             # gym's env.seed(seed)
  env.action_space.seed(seed)
  torch.manual_seed(seed)
  np.random.seed(seed)
  random.seed(seed)
  torch.use_deterministic_algorithms(True)
  torch.backends.cudnn.benchmark = False
  torch.backends.cudnn.deterministic = True

# %% [markdown]
# Last, we need to create a lunar lander environment with gymnasium. The course's grader plays your
# policy at most 1,000 steps per episode, as here.

# %%
env = gym.make('LunarLander-v3', max_episode_steps=1000)
fix(env, seed) # fix the environment Do not revise this !!!

# %% [markdown]
# ## What Lunar Lander is
#
# "LunarLander-v3" simulates a lander landing on the moon. The task is to land safely on the pad
# between the two yellow flags. The `observation`/`state` is a vector of 8 numbers: position x and y,
# velocity x and y, the angle and its velocity, and whether each of the two legs touches the ground.

# %%
print(env.observation_space)

# %% [markdown]
# `Discrete(4)` means the agent can take four actions: 0 do nothing, 1 fire the left engine,
# 2 fire the main engine, 3 fire the right engine.

# %%
print(env.action_space)

# %% [markdown]
# `initial_state` is the state the environment starts in (`env.reset()` gives the state and an info
# dict). `env.step(action)` returns `observation, reward, terminated, truncated, info`.
#
# ### Reward
# > Landing pad is always at coordinates (0,0). Coordinates are the first two numbers in state
# > vector. Reward for moving from the top of the screen to landing pad and zero speed is about
# > 100..140 points. If lander moves away from landing pad it loses reward back. Episode finishes if
# > the lander crashes or comes to rest, receiving additional -100 or +100 points. Each leg ground
# > contact is +10. Firing main engine is -0.3 points each frame. Solved is 200 points.

# %%
initial_state, _ = env.reset()
print(initial_state)

random_action = env.action_space.sample()
print(random_action)
observation, reward, terminated, truncated, info = env.step(random_action)
print(reward, terminated or truncated)

# %% [markdown]
# ### Random Agent
# Before training, let's see how an agent that takes random actions does.

# %%
env.reset()
done = False
total_random_reward = 0
while not done:
    action = env.action_space.sample()
    observation, reward, terminated, truncated, info = env.step(action)
    total_random_reward += reward
    done = terminated or truncated
print(f"random agent: total reward {total_random_reward:.1f}")

# %% [markdown]
# ## Policy Gradient
# Now we build a simple policy network. The network gives one of the 4 actions for a state.

# %%
class PolicyGradientNetwork(nn.Module):

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 16)
        self.fc3 = nn.Linear(16, 4)

    def forward(self, state):
        hid = torch.tanh(self.fc1(state))
        hid = torch.tanh(self.fc2(hid))       # the sample code had `torch.tanh(hid)`: fc2 unused
        return F.softmax(self.fc3(hid), dim=-1)

# %% [markdown]
# Then we build a simple agent. The agent acts according to the policy network above and can
# 1. `learn()`: update the policy network from log probabilities and rewards;
# 2. `sample()`: take an action for a state: the action and the log probability of it.

# %%
class PolicyGradientAgent():

    def __init__(self, network):
        self.network = network
        self.optimizer = optim.SGD(self.network.parameters(), lr=0.001)

    def forward(self, state):
        return self.network(state)

    def learn(self, log_probs, rewards):
        loss = (-log_probs * rewards).sum() # You don't need to revise this to pass simple baseline (but you can)

        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    def sample(self, state):
        action_prob = self.network(torch.FloatTensor(state))
        action_dist = Categorical(action_prob)
        action = action_dist.sample()
        log_prob = action_dist.log_prob(action)
        return action.item(), log_prob

    def save(self, PATH): # You should not revise this
        Agent_Dict = {
            "network" : self.network.state_dict(),
            "optimizer" : self.optimizer.state_dict()
        }
        torch.save(Agent_Dict, PATH)

    def load(self, PATH): # You should not revise this
        checkpoint = torch.load(PATH)
        self.network.load_state_dict(checkpoint["network"])
        #如果要儲存過程或是中斷訓練後想繼續可以用喔 ^_^
        self.optimizer.load_state_dict(checkpoint["optimizer"])

# %% [markdown]
# Lastly, build a network and an agent to start training.

# %%
network = PolicyGradientNetwork()
agent = PolicyGradientAgent(network)

# %% [markdown]
# ## Training Agent
#
# Now let's start to train our agent. Taking all the interactions between the agent and the
# environment as training data, the policy network learns from all these attempts.
#
# `accumulated_discounted_reward` turns one episode's rewards r1, r2, r3, … into
# r1 + 0.99 r2 + 0.99² r3 + …, r2 + 0.99 r3 + …, r3 + …: the reward an action leads to, not only the
# one it gets at once (the hidden tests call it with other rewards and gammas).

# %%
def accumulated_discounted_reward(seq_rewards, gamma=0.99):
    """[r1, r2, r3, ...] -> [r1 + g*r2 + g^2*r3 + ..., r2 + g*r3 + ..., r3 + ..., ...]"""
    out = [0.0] * len(seq_rewards)
    running = 0.0
    for t in reversed(range(len(seq_rewards))):
        running = seq_rewards[t] + gamma * running
        out[t] = running
    return out

# %%
agent.network.train()  # Switch network into training mode
EPISODE_PER_BATCH = 5  # update the  agent every 5 episode
NUM_BATCH = 60        # totally update the agent for 60 time (500 in the course)

avg_total_rewards, avg_final_rewards = [], []

for batch in range(NUM_BATCH):

    log_probs, rewards = [], []
    total_rewards, final_rewards = [], []

    # collect trajectory
    for episode in range(EPISODE_PER_BATCH):

        state, _ = env.reset()
        total_reward, total_step = 0, 0
        seq_rewards = []
        while True:

            action, log_prob = agent.sample(state) # at, log(at|st)
            next_state, reward, terminated, truncated, _ = env.step(action)
            done = terminated or truncated

            log_probs.append(log_prob) # [log(a1|s1), log(a2|s2), ...., log(at|st)]
            seq_rewards.append(reward)
            state = next_state
            total_reward += reward
            total_step += 1
            rewards.append(reward) # change here
            # ! IMPORTANT !
            # Current reward implementation: immediate reward,  given action_list : a1, a2, a3 ......
            #                                                         rewards :     r1, r2 ,r3 ......
            # medium：change "rewards" to accumulative decaying reward, given action_list : a1,                           a2,                           a3, ......
            #                                                           rewards :           r1+0.99*r2+0.99^2*r3+......, r2+0.99*r3+0.99^2*r4+...... ,  r3+0.99*r4+0.99^2*r5+ ......
            #         (TODO: at the end of the episode, rewards += accumulated_discounted_reward(seq_rewards)
            #          instead of appending the immediate reward here)
            # boss : implement Actor-Critic
            if done:
                final_rewards.append(reward)
                total_rewards.append(total_reward)
                break

    # record training process
    avg_total_reward = sum(total_rewards) / len(total_rewards)
    avg_final_reward = sum(final_rewards) / len(final_rewards)
    avg_total_rewards.append(avg_total_reward)
    avg_final_rewards.append(avg_final_reward)
    if batch % 10 == 0:
        print(f"batch {batch}: Total: {avg_total_reward: 4.1f}, Final: {avg_final_reward: 4.1f}")

    # update agent
    rewards = np.array(rewards)
    rewards = (rewards - np.mean(rewards)) / (np.std(rewards) + 1e-9)  # normalize the reward
    agent.learn(torch.stack(log_probs), torch.from_numpy(rewards))

# %% [markdown]
# ### Training Result
# During training we recorded `avg_total_reward`, the mean total reward of the episodes of each
# batch. It should rise as the agent learns.

# %%
plt.plot(avg_total_rewards)
plt.title("Total Rewards")
plt.show()

# %% [markdown]
# In addition, `avg_final_reward` is the mean reward of the last step of each episode: +100 for a
# landing, -100 for a crash.

# %%
plt.plot(avg_final_rewards)
plt.title("Final Rewards")
plt.show()

# %% [markdown]
# ## Testing
# The testing result is the average reward of 5 testing episodes.

# %%
fix(env, seed)
agent.network.eval()  # set the network into evaluation mode
NUM_OF_TEST = 5 # Do not revise this !!!
test_total_reward = []
action_list = []
for i in range(NUM_OF_TEST):
  actions = []
  state, _ = env.reset()

  total_reward = 0

  done = False
  while not done:
      action, _ = agent.sample(state)
      actions.append(action)
      state, reward, terminated, truncated, _ = env.step(action)
      done = terminated or truncated

      total_reward += reward

  print(total_reward)
  test_total_reward.append(total_reward)

  action_list.append(actions) # save the result of testing

# %%
print(np.mean(test_total_reward))

# %% [markdown]
# Action list

# %%
print("Action list's lengths look like ", [len(a) for a in action_list])

# %% [markdown]
# Analysis of actions taken by agent

# %%
distribution = {}
for actions in action_list:
  for action in actions:
    if action not in distribution.keys():
      distribution[action] = 1
    else:
      distribution[action] += 1
print(distribution)

# %% [markdown]
# ## Saving the result
# **What the course grades**: the policy network's weights. `policy.pt` is what you upload; the
# grader plays it on hidden episodes (the code you hand in must reproduce it).
#
# `Action_List.npy` is the 2022 JudgeBoi file (the 5 test episodes' actions). It only compares with
# 2022: an action list replayed open-loop on seed 543 says nothing about other episodes.

# %%
torch.save(agent.network.state_dict(), os.path.join(OUT_DIR, "policy.pt"))

PATH = os.path.join(OUT_DIR, "Action_List.npy") # Can be modified into the name or path you want
np.save(PATH ,np.array(action_list, dtype=object))

# %% [markdown]
# ### This is the file you submitted
# What JudgeBoi did with `Action_List.npy` in 2022: replay it on seed 543 (your own file, so
# `allow_pickle=True` is fine here; the course's server reads it with a restricted reader).

# %%
action_list = np.load(PATH, allow_pickle=True) # The action list you upload
seed = 543 # Do not revise this
fix(env, seed)

agent.network.eval()  # set network to evaluation mode

test_total_reward = []
if len(action_list) != 5:
  print("Wrong format of file !!!")
  exit(0)
for actions in action_list:
  state, _ = env.reset()

  total_reward = 0

  done = False

  for action in actions:

      state, reward, terminated, truncated, _ = env.step(action)
      done = terminated or truncated
      total_reward += reward
      if done:
        break

  print(f"Your reward is : %.2f"%total_reward)
  test_total_reward.append(total_reward)

# %% [markdown]
# # Your score

# %%
print(f"Your final reward is : %.2f"%np.mean(test_total_reward))
