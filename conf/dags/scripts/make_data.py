# make_data.py - example_python's first step: N rows of x, y = 2x + 1 into
# $KILN_OUTPUTS/data.csv (the exec plugin makes every file there an output).
import os
import sys

rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10
path = os.path.join(os.environ["KILN_OUTPUTS"], "data.csv")
with open(path, "w") as f:
    f.write("x,y\n")
    for x in range(rows):
        f.write("%d,%d\n" % (x, 2 * x + 1))
print("wrote %d rows to data.csv" % rows)
