#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""analytics-results.py - the results shown in docs/analytics.md, from a real run.

Starts a kiln cluster from this tree (`kiln up`: a master and two workers of
two slots, bench/kiln_bench.py's dags_cluster_up), runs on it:
  - the two example pipelines of conf/dags/ (breast_cancer_models and
    sunspots_forecast: their files as they are, with the data path made
    absolute and the schedule removed, so that each runs once, when
    triggered);
  - logistic regression on examples/data/digits.csv (600 x 64, 10 classes)
    in 1, 2 and 4 partitions, each fitted with a stage per evaluation
    (local_below: 0), by the driver alone (local_below: -1) and by default
    (bench/smallfit_bench.py's DAG);
  - additive and multiplicative Holt-Winters and AR on
    examples/data/elec_equip.csv (the `forecast` plugin), then the same
    models in statsmodels (Debian's python3-statsmodels 0.13) with kiln's
    fitted parameters and states, to show where its forecasts differ;
and rewrites the generated sections of docs/analytics.md, the text
between `<!-- results:NAME -->` and `<!-- /results -->`, with the tables
and the date, commit and command that produced them.  Every number in
those sections comes from this run.

  tools/analytics-results.py            run everything, rewrite the docs
  tools/analytics-results.py --dry-run  run everything, print the sections
  tools/analytics-results.py --check    the sunspots pipeline alone: check
                                        the docs' markers and the tables'
                                        formatting on a real run (CI)
Options --kiln BINARY and --plugins DIR run an out-of-tree build.
statsmodels is looked for in this interpreter, then /usr/bin/python3; without
it that section says so and the rest is written.
"""
import argparse, datetime, json, os, re, shutil, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "bench"))
from kiln_bench import dags_cluster_up  # noqa: E402
from smallfit_bench import dag as smallfit_dag  # noqa: E402

DOCS = os.path.join(TOP, "docs", "analytics.md")
DATA = os.path.join(TOP, "examples", "data")
EXAMPLES = ("breast_cancer_models", "sunspots_forecast")
PARTITIONS = (1, 2, 4)
FC_METHODS = ("holt_winters_add", "holt_winters_mul", "ar")
FC_HORIZON = 36
# Every generated section, in the order they appear in the docs.
SECTIONS = ("provenance", "breast-cancer", "breast-cancer-folds", "sunspots",
            "sunspots-backtest", "scaling", "statsmodels")
CHECK_SECTIONS = ("sunspots", "sunspots-backtest")
MARK = re.compile(r"<!-- results:([a-z0-9-]+) -->\n(.*?)<!-- /results -->", re.S)

# ------------------------------------------------------------------
# The docs' markers


def sections_of(text):
    """{NAME: body} of TEXT's generated sections; raises ValueError when a
    marker is unbalanced, repeated or unknown."""
    opens = re.findall(r"<!-- results:([a-z0-9-]+) -->", text)
    closes = text.count("<!-- /results -->")
    found = {m.group(1): m.group(2) for m in MARK.finditer(text)}
    if len(opens) != closes or len(found) != len(opens):
        raise ValueError(f"docs: {len(opens)} section markers, {closes} ends, "
                         f"{len(found)} well-formed sections")
    for name in opens:
        if name not in SECTIONS:
            raise ValueError(f"docs: unknown section results:{name}")
    missing = [s for s in SECTIONS if s not in found]
    if missing:
        raise ValueError(f"docs: sections missing: {', '.join(missing)}")
    return found


def rewrite(text, bodies):
    """TEXT with the body of each section in BODIES replaced."""
    def sub(m):
        name = m.group(1)
        if name not in bodies:
            return m.group(0)
        return f"<!-- results:{name} -->\n{bodies[name].rstrip()}\n<!-- /results -->"
    return MARK.sub(sub, text)

# ------------------------------------------------------------------
# Numbers and tables


def num(x, digits=4):
    """X to DIGITS significant digits, plain (no exponent) where sensible."""
    if x is None:
        return "-"
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1e-3 and a < 1e6:
        s = f"{x:.{digits}g}"
        if "e" not in s:
            return s
    return f"{x:.{max(digits - 1, 1)}e}"


def ms(x):
    """A time in ms, to 2 significant digits below 10 and whole above."""
    return f"{x:.2g}" if x < 10 else f"{x:.0f}"


def pval(p):
    if p is None:
        return "-"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def table(head, rows, align=None):
    """A Markdown table; ALIGN a string of l/r per column (default: first
    column left, the rest right)."""
    align = align or "l" + "r" * (len(head) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    out = ["| " + " | ".join(head) + " |", "| " + " | ".join(sep) + " |"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out) + "\n"


def mean_sd(metric):
    return f"{num(metric['mean'])} ± {num(metric['std'])}"


def min_max(metric):
    f = metric["folds"]
    return f"{num(min(f))} – {num(max(f))}"


def params_str(p):
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.items())


def vs_best(m):
    v = m.get("vs_best")
    if not v:
        return "best"
    return f"{pval(v['p'])} (t = {num(v['t'], 3)}, df {num(v['df'])})"


def leaderboard_section(lb, cols):
    """The leaderboard LB as a table: the primary metric's mean ± sd and
    min - max over the folds, COLS (other metrics) as mean ± sd, the
    training time and p against the best."""
    prim = lb["primary"]
    head = ["rank", "model", "parameters", f"{prim} mean ± sd", f"{prim} min – max"]
    head += [f"{c} mean ± sd" for c in cols] + ["train ms", "p vs best"]
    rows = []
    for m in lb["models"]:
        mt = m["metrics"]
        rows.append([m["rank"], f"`{m['model']}`", params_str(m["params"]),
                     mean_sd(mt[prim]), min_max(mt[prim])] +
                    [mean_sd(mt[c]) if c in mt else "-" for c in cols] +
                    [ms(m["train_ms"]["mean"]), vs_best(m)])
    better = "higher" if lb["higher_is_better"] else "lower"
    test = {"paired_t": "paired t-test (scipy's `ttest_rel`)",
            "corrected_resampled_t": "Nadeau-Bengio corrected resampled t-test"}[lb["test"]]
    return (f"{lb['validation']}; ranked by `{prim}` ({better} is better); "
            f"mean ± sample standard deviation and range over the {lb['folds'] * lb['repeats']} "
            f"folds; p: two-sided {test} of each model's per-fold `{prim}` "
            f"against the best's.\n\n" +
            table(head, rows, "rllrr" + "r" * len(cols) + "rr"))


def folds_section(lb, metrics):
    """Each model's per-fold scores of METRICS."""
    out = ""
    for met in metrics:
        k = len(lb["models"][0]["metrics"][met]["folds"])
        head = ["model"] + [f"fold {i + 1}" for i in range(k)]
        rows = [[f"`{m['model']}`"] + [num(v) for v in m["metrics"][met]["folds"]]
                for m in lb["models"] if met in m["metrics"]]
        out += f"Per fold, `{met}`:\n\n" + table(head, rows) + "\n"
    return out


def scores_only(body):
    """BODY without what changes from run to run: the `train ms` column of
    its tables (scores are deterministic for a seed; times are not)."""
    out, drop = [], None
    for line in body.splitlines():
        cells = line.split(" | ")
        if line.startswith("| ") and "train ms" in cells:
            drop = cells.index("train ms")
        elif not line.startswith("| "):
            drop = None
        if drop is not None and line.startswith("| ") and len(cells) > drop:
            del cells[drop]
        out.append(" | ".join(cells))
    return "\n".join(out)


def backtest_origins(lb, n):
    """(start, training length) of each backtest origin, from the
    leaderboard's validation line (the benchmark's own account of them)."""
    v = lb["validation"]
    hz = int(re.search(r"horizon (\d+)", v).group(1))
    step = int(re.search(r"step (\d+)", v).group(1))
    init = int(re.search(r"initial training length (\d+)", v).group(1))
    k = lb["folds"]
    starts = [init + f * step for f in range(k)]
    if starts[-1] + hz > n:
        raise ValueError(f"backtest origins {starts} do not fit {n} values")
    return starts, hz


def backtest_section(lb):
    """Per origin: the times forecast and each model's MASE and RMSE."""
    fc = lb["forecast"]
    t = fc["t"]
    starts, hz = backtest_origins(lb, len(t))
    models = lb["models"]
    head = ["origin", "trained on", "forecasts"]
    for m in models:
        head += [f"`{m['model']}` MASE", f"`{m['model']}` RMSE"]
    rows = []
    for f, s in enumerate(starts):
        row = [f + 1, f"{num(t[0])} – {num(t[s - 1])} ({s})", f"{num(t[s])} – {num(t[s + hz - 1])}"]
        for m in models:
            row += [num(m["metrics"]["mase"]["folds"][f]),
                    num(m["metrics"]["rmse"]["folds"][f])]
        rows.append(row)
    return ("Each origin fits every model on the values before it and forecasts "
            f"the next {hz}; MASE is scaled by the in-sample seasonal naive error "
            "of that origin's training values.\n\n" + table(head, rows, "rll" + "r" * (2 * len(models))))

# ------------------------------------------------------------------
# The cluster


class Run:
    """A kiln cluster in a scratch directory, and the DAG runs on it."""

    def __init__(self, args, dags):
        self.dir = tempfile.mkdtemp(prefix="kiln-anadocs.")
        os.makedirs(os.path.join(self.dir, "dags"))
        for name, text in dags.items():
            with open(os.path.join(self.dir, "dags", name + ".yaml"), "w") as f:
                f.write(text)
        self.up, self.api = dags_cluster_up(self.dir, slots=2, read_roots=[DATA],
                                            kiln=args.kiln, plugin_dir=args.plugins)
        for _ in range(300):
            st, r = self.api.req("GET", "/api/v1/dags")
            if len(r.get("dags") or []) >= len(dags):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"the master loaded {r} of {len(dags)} DAGs")

    def close(self, keep=False):
        self.up.terminate()
        self.up.wait(timeout=30)
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def run_dag(self, did):
        """Trigger DID, wait for its run; {task: job} (each job with its
        result), or an exception naming the failed tasks."""
        st, r = self.api.req("POST", f"/api/v1/dags/{did}/trigger", {})
        if st != 201:
            raise RuntimeError(f"trigger {did}: {st} {r}")
        rid = r["run_id"]
        while True:
            st, r = self.api.req("GET", f"/api/v1/runs/{rid}")
            if r["state"] in ("success", "failed"):
                break
            time.sleep(0.1)
        jobs = {}
        for t in r["tasks"]:
            st, jobs[t["task"]] = self.api.req("GET", f"/api/v1/jobs/{t['job_id']}")
        if r["state"] != "success":
            bad = {k: j.get("error") for k, j in jobs.items() if j.get("state") != "succeeded"}
            raise RuntimeError(f"run {rid} failed: {bad}")
        return jobs

    def artifact(self, job, name):
        sha = next(o["sha"] for o in job["outputs"] if o["name"] == name)
        st, r = self.api.req("GET", "/api/v1/artifacts/" + sha)
        if st != 200:
            raise RuntimeError(f"artifact {name}: {st}")
        return r


def example_dag(name):
    """conf/dags/NAME.yaml with the data path made absolute and no schedule."""
    with open(os.path.join(TOP, "conf", "dags", name + ".yaml")) as f:
        s = f.read()
    s = s.replace("{{ dag.dir }}/../../examples/data", DATA)
    return "".join(line for line in s.splitlines(True)
                   if not re.match(r"(schedule|start_date|catchup):", line))


def forecast_dag():
    s = f"""id: anadocs_fc
tasks:
  - id: ingest
    plugin: ingest
    params: {{ file: "{DATA}/elec_equip.csv", partitions: 1 }}
"""
    for meth in FC_METHODS:
        s += f"""  - id: {meth}
    plugin: forecast
    depends_on: [ingest]
    params: {{ dataset: elec_equip, time: DATE, method: {meth}, horizon: {FC_HORIZON} }}
"""
    return s

# ------------------------------------------------------------------
# One machine or several


def scaling_section(runs):
    """RUNS: {partitions: jobs of the smallfit DAG}."""
    ref = None
    rows = []
    for parts in PARTITIONS:
        jobs = runs[parts]
        for mode in ("dist", "local", "default"):
            j = jobs[mode]
            res = j["result"]
            flat = [v for row in res["coef"] for v in row] + res["intercept"]
            if ref is None:
                ref = (flat, res["log_loss"])
            diff = max(abs(a - b) for a, b in zip(ref[0], flat))
            scale = max(abs(a) for a in ref[0])
            wall = j["finished_ms"] - j["started_ms"]
            how = {"dist": "stages (`local_below: 0`)", "local": "driver (`local_below: -1`)",
                   "default": "default (" + ("driver" if res.get("local") else "stages") + ")"}[mode]
            rows.append([parts, how, f"{wall / 1000:.2f}", f"{res['fit_ms'] / 1000:.3f}",
                         res["evaluations"], f"{res['fit_ms'] / res['evaluations']:.2f}",
                         f"{res['log_loss']:.12f}", f"{abs(res['log_loss'] - ref[1]):.1e}",
                         f"{diff:.1e}", f"{diff / scale:.1e}"])
    per = {how: [float(r[5]) for r in rows if r[1].startswith(how)] for how in ("stages", "driver")}
    evs = sorted({r[4] for r in rows})
    summary = ((f"\nEvery fit ran the same {evs[0]} evaluations" if len(evs) == 1 else
                f"\nThe fits ran {', '.join(map(str, evs))} evaluations") +
               f"; the largest coefficient "
               f"difference between partitionings is {max(float(r[8]) for r in rows):.1e} "
               f"({max(float(r[9]) for r in rows):.1e} of the largest coefficient, "
               f"{max(abs(a) for a in ref[0]):.4g}) and "
               f"the largest log-loss difference {max(float(r[7]) for r in rows):.1e} (floating-point "
               f"additions in another order). An evaluation cost "
               f"{min(per['stages']):.2f}-{max(per['stages']):.2f} ms as a stage and "
               f"{min(per['driver']):.2f}-{max(per['driver']):.2f} ms in the driver.\n")
    return ("Logistic regression (`logreg`, defaults: L2, C = 1) on `examples/data/digits.csv` "
            "(600 rows x 64 features, 10 classes), ingested in 1, 2 and 4 partitions; "
            "each fit is a job of its own on the cluster. Differences are against the "
            "1-partition staged fit.\n\n" +
            table(["partitions", "evaluated by", "job s", "fit s", "evaluations",
                   "ms per evaluation", "training log loss", "Δ log loss",
                   "largest Δ coefficient", "relative to the largest coefficient"],
                  rows, "rlrrrrrrrr") + summary)

# ------------------------------------------------------------------
# statsmodels 0.13


SM_HELPER = r'''
import json, sys, warnings
import numpy as np
import statsmodels
from statsmodels.tsa.holtwinters import ExponentialSmoothing
from statsmodels.tsa.ar_model import AutoReg, ar_select_order
warnings.simplefilter("ignore")
inp = json.load(sys.stdin)
y = np.array(inp["y"])
out = {"version": statsmodels.__version__, "models": {}}
for name, mj in inp["models"].items():
    h = len(inp["forecasts"][name])
    if mj["method"] in ("hw_add", "hw_mul"):
        seas = "add" if mj["method"] == "hw_add" else "mul"
        kw = dict(trend="add", damped_trend=bool(mj["damped"]), seasonal=seas,
                  seasonal_periods=mj["m"])
        fixed = ExponentialSmoothing(y, initialization_method="known",
                                     initial_level=mj["initial_level"],
                                     initial_trend=mj["initial_trend"],
                                     initial_seasonal=np.array(mj["initial_seasonal"]),
                                     **kw).fit(smoothing_level=mj["alpha"],
                                               smoothing_trend=mj["beta"],
                                               smoothing_seasonal=mj["gamma"],
                                               damping_trend=mj["phi"] if mj["damped"] else None,
                                               optimized=False)
        own = ExponentialSmoothing(y, initialization_method="estimated", **kw).fit()
        # the seasonal state applied to the last value, before its update
        # (the recursion of statsmodels' _predict, run here on its own)
        a, b, g, phi = mj["alpha"], mj["beta"], mj["gamma"], mj["phi"]
        L, B, S = mj["initial_level"], mj["initial_trend"], list(mj["initial_seasonal"])
        m = mj["m"]
        for i, v in enumerate(y):
            s, T = S[i % m], L + phi * B
            Ln = a * (v - s) + (1 - a) * T if seas == "add" else a * v / s + (1 - a) * T
            S[i % m] = g * (v - T) + (1 - g) * s if seas == "add" else g * v / T + (1 - g) * s
            B = b * (Ln - L) + (1 - b) * phi * B
            L = Ln
        out["models"][name] = {"fixed_sse": float(fixed.sse),
                               "fixed_forecast": fixed.forecast(h).tolist(),
                               "own_sse": float(own.sse),
                               "own_forecast": own.forecast(h).tolist(),
                               "s_last_before": s}
    elif mj["method"] == "ar":
        sel = ar_select_order(y, inp["max_p"], ic="aic", trend="c")
        p = len(sel.ar_lags) if sel.ar_lags is not None else 0
        r = AutoReg(y, lags=p, trend="c").fit()
        out["models"][name] = {"p": p, "coef": r.params.tolist(),
                               "forecast": r.forecast(h).tolist() if hasattr(r, "forecast")
                               else r.predict(len(y), len(y) + h - 1).tolist()}
print(json.dumps(out))
'''


def statsmodels_python():
    """An interpreter that imports statsmodels, or None."""
    for py in (sys.executable, "/usr/bin/python3"):
        if os.path.exists(py) and subprocess.run(
                [py, "-c", "import statsmodels"], capture_output=True).returncode == 0:
            return py
    return None


def read_series(path):
    with open(path) as f:
        f.readline()
        return [float(line.rsplit(",", 1)[1]) for line in f if line.strip()]


def statsmodels_section(run, jobs):
    """kiln's forecasts of elec_equip against statsmodels 0.13's, from the
    same fitted parameters and states (so that only the forecasting step
    differs) and from statsmodels' own fit."""
    y = read_series(os.path.join(DATA, "elec_equip.csv"))
    models, fcs = {}, {}
    for meth in FC_METHODS:
        mj = run.artifact(jobs[meth], "model.json")
        models[meth] = next(iter(mj["models"].values()))
        fcs[meth] = next(iter(jobs[meth]["result"]["series"].values()))["forecast"]
    py = statsmodels_python()
    intro = ("`examples/data/elec_equip.csv` (257 monthly values, season 12), "
             f"fitted by the `forecast` plugin (horizon {FC_HORIZON}); ")
    if py is None:
        return intro + "statsmodels was not installed where this run was made: no comparison.\n"
    p = subprocess.run([py, "-c", SM_HELPER], input=json.dumps(
        {"y": y, "models": models, "forecasts": fcs, "max_p": 10}),
        capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("statsmodels helper: " + p.stderr[-2000:])
    sm = json.loads(p.stdout)
    out = intro + (f"statsmodels {sm['version']} (`{py}`).\n\n")
    rows = []
    for meth in ("holt_winters_add", "holt_winters_mul"):
        k, s, mj = fcs[meth], sm["models"][meth], models[meth]
        m = mj["m"]
        diff = [b - a for a, b in zip(k, s["fixed_forecast"])]
        off = [h + 1 for h, d in enumerate(diff) if abs(d) > 1e-9 * max(1, abs(k[h]))]
        rows.append([f"`{meth}`", num(mj["sse"], 10), num(s["fixed_sse"], 10),
                     num(s["own_sse"], 10),
                     f"{max(abs(d) for d in diff):.2e}",
                     ", ".join(map(str, off)) or "none",
                     f"{max(abs(a - b) for a, b in zip(k, s['own_forecast'])):.2e}",
                     f"{max(abs(k[h] - s['own_forecast'][h]) for h in range(len(k)) if (h + 1) % m):.2e}"])
    out += table(["model", "kiln SSE", "statsmodels SSE, kiln's parameters",
                  "statsmodels SSE, its own fit", "largest forecast difference, same parameters",
                  "steps that differ", "largest forecast difference, own fit",
                  "the same, steps not multiples of m"], rows, "lrrrrlrr")
    # the steps that differ, and the state statsmodels used there
    rows = []
    for meth in ("holt_winters_add", "holt_winters_mul"):
        k, s, mj = fcs[meth], sm["models"][meth], models[meth]
        m = mj["m"]
        for h in (1, m - 1, m, m + 1, 2 * m, 3 * m):
            if h > len(k):
                continue
            rows.append([f"`{meth}`", h, num(k[h - 1], 10), num(s["fixed_forecast"][h - 1], 10),
                         f"{s['fixed_forecast'][h - 1] - k[h - 1]:.6g}"])
    out += "\nAt and around the multiples of the season (h = forecast step):\n\n"
    out += table(["model", "h", "kiln", "statsmodels, kiln's parameters", "difference"],
                 rows, "lrrrr")
    # why: statsmodels' steps m, 2m, ... use the seasonal state of the last
    # value from before that value updated it
    rows = []
    for meth in ("holt_winters_add", "holt_winters_mul"):
        k, s, mj = fcs[meth], sm["models"][meth], models[meth]
        m, add = mj["m"], meth.endswith("add")
        hs = [h for h in range(m, len(k) + 1, m)]
        sb = s["s_last_before"]
        rebuilt = [(mj["level"] + h * mj["trend"]) + sb if add else
                   (mj["level"] + h * mj["trend"]) * sb for h in hs]
        err = max(abs(r - s["fixed_forecast"][h - 1]) for r, h in zip(rebuilt, hs))
        rows.append([f"`{meth}`", num(mj["season"][m - 1], 8), num(sb, 8),
                     f"{err:.1e}"])
    out += ("\nThe seasonal state of steps h = m, 2m, ...: kiln's $s_n$, the state "
            "after the last value $y_n$ updated it, and $s_{n-m}$, the one $y_n$ was "
            "forecast with (from the same recursion run in Python); statsmodels' "
            "forecasts at those steps rebuilt as $\\ell_n + h b_n + s_{n-m}$ "
            "(multiplicative: $(\\ell_n + h b_n)\\, s_{n-m}$):\n\n")
    out += table(["model", "kiln's $s_n$", "$s_{n-m}$",
                  "largest difference of the rebuilt from statsmodels' at h = m, 2m, 3m"], rows, "lrrr")
    a, s = models["ar"], sm["models"]["ar"]
    dc = max(abs(x - y) for x, y in zip(a["coef"], s["coef"])) if len(s["coef"]) == len(a["coef"]) else None
    df = max(abs(x - y) for x, y in zip(fcs["ar"], s["forecast"]))
    out += ("\nAR by AIC over p = 0..10 (`ar_select_order(y, 10, ic=\"aic\", trend=\"c\")`, "
            "whose default is BIC, then "
            f"`AutoReg(y, p, trend=\"c\")`): kiln chose p = {a['p']}, statsmodels "
            f"p = {s['p']}; largest coefficient difference "
            f"{'-' if dc is None else f'{dc:.1e}'}, largest forecast difference "
            f"{df:.1e} over {FC_HORIZON} steps.\n")
    return out

# ------------------------------------------------------------------


def provenance(cmd, elapsed):
    def git(*a):
        return subprocess.run(["git", "-C", TOP] + list(a), capture_output=True,
                              text=True).stdout.strip()
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = [line for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
             if not line.endswith("docs/analytics.md")]
    if dirty:
        commit += " with uncommitted changes"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    la = os.getloadavg()
    return (f"Generated {now} by `{cmd}` on commit {commit}, in {elapsed:.0f} s: "
            f"a master and two workers of two slots (`kiln up`) on a machine of "
            f"{os.cpu_count()} cores shared with other work (load average "
            f"{la[0]:.2f} at the end). Scores do not change from run to run "
            "(fixed seeds); times do.\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="the sunspots pipeline alone; check markers and tables, write nothing")
    ap.add_argument("--dry-run", action="store_true", help="print the sections, write nothing")
    ap.add_argument("--docs", default=DOCS)
    ap.add_argument("--kiln", help="the kiln binary (default: the tree's)")
    ap.add_argument("--plugins", help="the built plugins' directory (default: the tree's)")
    ap.add_argument("--keep", action="store_true", help="keep the cluster's directory")
    args = ap.parse_args()

    with open(args.docs) as f:
        text = f.read()
    sections_of(text)           # fail early on broken markers
    t0 = time.time()
    dags = {"sunspots_forecast": example_dag("sunspots_forecast")}
    if not args.check:
        dags["breast_cancer_models"] = example_dag("breast_cancer_models")
        dags["anadocs_fc"] = forecast_dag()
        digits = os.path.join(DATA, "digits.csv")
        for p in PARTITIONS:
            dags[f"anadocs_lr{p}"] = smallfit_dag(f"anadocs_lr{p}", digits, p, 0)
    run = Run(args, dags)
    bodies = {}
    try:
        lb = run.run_dag("sunspots_forecast")["benchmark"]["result"]
        bodies["sunspots"] = leaderboard_section(lb, ["mae", "rmse", "smape"])
        bodies["sunspots-backtest"] = backtest_section(lb) + "\n" + folds_section(lb, ["smape"])
        if not args.check:
            lb = run.run_dag("breast_cancer_models")["benchmark"]["result"]
            bodies["breast-cancer"] = leaderboard_section(
                lb, ["accuracy", "log_loss", "f1_macro"])
            bodies["breast-cancer-folds"] = folds_section(lb, ["roc_auc", "log_loss"])
            bodies["scaling"] = scaling_section(
                {p: run.run_dag(f"anadocs_lr{p}") for p in PARTITIONS})
            bodies["statsmodels"] = statsmodels_section(run, run.run_dag("anadocs_fc"))
    finally:
        run.close(args.keep)
    cmd = "tools/analytics-results.py" + (" --check" if args.check else "")
    bodies["provenance"] = provenance(cmd, time.time() - t0)
    new = rewrite(text, bodies)
    got = sections_of(new)
    for name in (CHECK_SECTIONS if args.check else SECTIONS):
        body = got[name]
        if "| --- |" not in body and "| ---" not in body and name != "provenance":
            raise SystemExit(f"section {name}: no table")
    if args.check:
        old = sections_of(text)
        for name in CHECK_SECTIONS:
            if scores_only(old[name]) != scores_only(got[name]):
                sys.exit(f"{args.docs}: section {name} is not what this tree computes "
                         f"(run tools/analytics-results.py):\n--- the docs\n{old[name]}"
                         f"--- this run\n{got[name]}")
        print(f"ok: {len(got)} sections well-formed; {', '.join(CHECK_SECTIONS)} "
              f"from a real run in {time.time() - t0:.1f} s, the same scores as the docs'")
        for name in CHECK_SECTIONS:
            print(got[name])
        return
    if args.dry_run:
        for name in SECTIONS:
            print(f"== {name}\n{got[name]}")
        return
    with open(args.docs, "w") as f:
        f.write(new)
    print(f"rewrote {len(bodies)} sections of {args.docs} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
