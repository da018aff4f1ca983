"""HW3 ladder check: build the data, run the starter and the four reference levels, print accuracies.

    python tools/hw03_ladder.py [--seeds 1 2 3] [--scale ci] [--jobs 2] [--threads 1]
                                [--levels starter simple medium strong boss] [--repeat] [--keep DIR]
    python tools/hw03_ladder.py --course-data COURSE/data/hw03     # a prepared course's data and split

The shared code is tools/class_ladder.py. For every seed the HW3 builder writes release/ and hidden/ into a temp folder; then the starter
notebook source (run as a script, GRADE_DATA_DIR / GRADE_OUTPUT_DIR set) and
reference_solutions/hw03/{simple,medium,strong,boss}.py each write a submission.csv, `--jobs` of
them at a time with `--threads` threads each (the way `grade calibrate` runs them: 2 jobs, 1
thread). The hidden answers are split 50/50 into a public and a private board (seeded by the data
seed) and the accuracy of every run is printed per board, with its wall and CPU seconds; the
ladder's wall time is printed per seed. --course-data uses a prepared course's release, answers and
public/private split instead (so the numbers are those `grade verify` shows, with CPU seconds).
--repeat runs every level twice and reports how many predictions differ between the two runs.
"""
from class_ladder import Homework, main

HW3 = Homework("hw03", "hw03_cnn", output="submission.csv", id_column="Id", label_column="Category")

if __name__ == "__main__":
    main(HW3, __doc__)
