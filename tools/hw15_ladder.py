"""HW15 ladder check: build the data, run the starter and the four reference levels, print accuracies.

    python tools/hw15_ladder.py [--seeds 1 2 3] [--scale ci] [--jobs 2] [--threads 1]
                                [--levels starter simple medium strong boss] [--repeat] [--keep DIR]
    python tools/hw15_ladder.py --course-data COURSE/data/hw15     # a prepared course's data and split

The shared code is tools/class_ladder.py. For every seed the HW15 builder writes release/ and hidden/
into a temp folder; then the starter notebook source (run as a script, GRADE_DATA_DIR /
GRADE_OUTPUT_DIR set) and reference_solutions/hw15/{simple,medium,strong,boss}.py each write an
output.csv, `--jobs` of them at a time with `--threads` threads each (the way `grade calibrate` runs
them: 2 jobs, 1 thread). The query answers are split 50/50 into a public and a private board (seeded
by the data seed) and the accuracy of every run is printed per board, with its wall and CPU seconds.
"""
from class_ladder import Homework, main

HW15 = Homework("hw15", "hw15_meta", output="output.csv", id_column="id", label_column="class", numeric_ids=True)

if __name__ == "__main__":
    main(HW15, __doc__)
