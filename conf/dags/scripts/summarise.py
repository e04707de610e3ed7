# summarise.py - example_python's second step: the mean of one column of
# the CSV given with --in; the column comes from the task's params (the
# JSON file $KILN_PARAMS_FILE; also $KILN_PARAM_COLUMN).
import argparse
import csv
import json
import os

ap = argparse.ArgumentParser()
ap.add_argument("--in", dest="path", required=True)
args = ap.parse_args()
params = json.load(open(os.environ["KILN_PARAMS_FILE"]))
column = params.get("column", "y")
values = [float(r[column]) for r in csv.DictReader(open(args.path))]
summary = {"column": column, "rows": len(values),
           "mean": sum(values) / len(values) if values else None}
with open(os.path.join(os.environ["KILN_OUTPUTS"], "summary.json"), "w") as f:
    json.dump(summary, f)
print("mean of %s over %d rows: %s" % (column, len(values), summary["mean"]))
