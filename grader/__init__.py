"""grader: homework autograder and Kaggle-style leaderboards for Hung-yi Lee's ML course."""

__version__ = "0.1.0"
