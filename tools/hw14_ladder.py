"""HW14 ladder check: build the rotated-digit tasks, run the starter and the four reference levels, print accuracies.

    python tools/hw14_ladder.py [--seeds 1 2 3] [--scale ci] [--jobs 2] [--threads 1]
                                [--levels starter simple medium strong boss] [--repeat] [--keep DIR]
    python tools/hw14_ladder.py --course-data COURSE/data/hw14     # a prepared course's data and split

The shared code is tools/class_ladder.py. For every seed the HW14 builder writes release/ and hidden/
into a temp folder; then the starter notebook source (run as a script, GRADE_DATA_DIR /
GRADE_OUTPUT_DIR set) and reference_solutions/hw14/{simple,medium,strong,boss}.py each write a
pred.csv (id,label over the five tasks' test images), `--jobs` of them at a time with `--threads`
threads each (the way `grade calibrate` runs them: 2 jobs, 1 thread). The hidden answers are split
50/50 into a public and a private board (seeded by the data seed) and the accuracy of every run is
printed per board, with its wall and CPU seconds; the ladder's wall time is printed per seed.
--course-data uses a prepared course's release, answers and public/private split instead.
--repeat runs every level twice and reports how many predictions differ between the two runs.
"""
from class_ladder import Homework, main

HW14 = Homework("hw14", "hw14_lifelong", output="pred.csv", id_column="id", label_column="label",
                numeric_ids=True)

if __name__ == "__main__":
    main(HW14, __doc__)
