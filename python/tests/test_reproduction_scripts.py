"""The reproduction scripts' bookkeeping: which runs count as finished, which are started or resumed."""
import importlib.util
import json
import os
import stat
import subprocess
import sys

SCRIPTS = os.path.join(os.path.dirname(__file__), "..", "..", "scripts")


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(SCRIPTS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_trainer(tmp_path):
    """A stand-in for train_synthetic that records its arguments and writes a summary at --iters."""
    calls = tmp_path / "calls.txt"
    script = tmp_path / "train_synthetic"
    script.write_text(f"""#!/bin/sh
echo "$@" >> {calls}
out=""; iters=""
while [ $# -gt 0 ]; do
  case "$1" in --out) out="$2"; shift;; --iters) iters="$2"; shift;; esac; shift
done
mkdir -p "$out"
echo '{{"iterations": '"$iters"', "mmd_paper": {{"hamming": 0.01}}, "mmd_consistent": {{"hamming": 0.01}}, \
"wall_seconds": 1.0, "iterations_per_second": 10.0, "final_loss": 0.5}}' \
  > "$out/summary.json"
printf 'iteration,mmd_paper,mmd_consistent\n%s,0.01,0.01\n' "$iters" > "$out/log.csv"
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script), calls


def fake_build(tmp_path):
    """A build folder whose examples/train_synthetic is the fake trainer; returns it and the calls file."""
    binary, calls = fake_trainer(tmp_path)
    examples = tmp_path / "build" / "examples"
    examples.mkdir(parents=True)
    os.symlink(binary, examples / "train_synthetic")
    return str(tmp_path / "build"), calls


def write_summary(path, iterations):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"iterations": iterations}))


def test_a_run_committed_to_the_results_is_not_trained_again(tmp_path):
    reproduce = load_script("reproduce_synthetic")
    binary, calls = fake_trainer(tmp_path)
    results = tmp_path / "results"
    write_summary(results / "2spirals_gg-advanced_squared.json", 1000)
    # A fresh output folder (a new clone or machine) holds nothing of that run.
    summary = reproduce.run(binary, str(tmp_path / "out"), "2spirals", "gg-advanced", "squared", 1000, 1, [],
                            str(results))
    assert summary["iterations"] == 1000
    assert not calls.exists()


def test_a_shorter_committed_run_or_a_missing_one_is_trained_and_copied(tmp_path):
    reproduce = load_script("reproduce_synthetic")
    binary, calls = fake_trainer(tmp_path)
    out, results = tmp_path / "out", tmp_path / "results"
    write_summary(results / "moons_rm_squared.json", 500)
    out.mkdir()
    reproduce.run(binary, str(out), "moons", "rm", "squared", 1000, 1, [], str(results))
    reproduce.run(binary, str(out), "circles", "rm", "squared", 1000, 2, [], str(results))
    lines = calls.read_text().splitlines()
    assert len(lines) == 2 and "--data moons" in lines[0] and "--seed 2" in lines[1]
    assert "--resume" not in lines[0]
    assert json.loads((results / "moons_rm_squared.json").read_text())["iterations"] == 1000
    assert (results / "circles_rm_squared_seed2_log.csv").exists()


def test_a_finished_runs_samples_picture_is_kept_with_its_results_and_shown(tmp_path):
    reproduce = load_script("reproduce_synthetic")
    binary, _ = fake_trainer(tmp_path)
    out, results = tmp_path / "out", tmp_path / "results"
    out.mkdir()
    (out / "moons_gg-basic_squared").mkdir()
    (out / "moons_gg-basic_squared" / "samples.png").write_bytes(b"picture")
    reproduce.run(binary, str(out), "moons", "gg-basic", "squared", 1000, 1, [], str(results))
    assert (results / "moons_gg-basic_squared_samples.png").read_bytes() == b"picture"
    # another run's output folder is not taken for this one's
    (out / "circles_gg-basic_squared").mkdir()
    (out / "circles_gg-basic_squared" / "samples.png").write_bytes(b"other")
    (out / "circles_gg-basic_squared" / "summary.json").write_text(json.dumps({"iterations": 5}))
    (results / "circles_gg-basic_squared.json").write_text(json.dumps({"iterations": 1000}))
    reproduce.keep_picture(str(out / "circles_gg-basic_squared"), "circles_gg-basic_squared", str(results))
    assert not (results / "circles_gg-basic_squared_samples.png").exists()
    (results / "circles_gg-basic_squared_log.csv").write_text("iteration,mmd_paper\n1000,0.01\n")
    (results / "circles_gg-basic_squared.json").write_text(
        json.dumps({"iterations": 1000, "mmd_paper": {"hamming": 0.01}, "mmd_consistent": {"hamming": 0.01}}))
    reproduce.full_budget_page(str(results), str(tmp_path / "page.md"))
    page = (tmp_path / "page.md").read_text()
    assert "![moons, gg-basic](synthetic/full/moons_gg-basic_squared_samples.png)" in page
    assert "Finished runs whose picture was not kept: circles gg-basic." in page


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    reproduce = load_script("reproduce_synthetic")
    binary, calls = fake_trainer(tmp_path)
    out = tmp_path / "out"
    (out / "pinwheel_gg-basic_squared").mkdir(parents=True)
    (out / "pinwheel_gg-basic_squared" / "checkpoint.bin").write_bytes(b"state")
    write_summary(out / "pinwheel_gg-basic_squared" / "summary.json", 400)
    reproduce.run(binary, str(out), "pinwheel", "gg-basic", "squared", 1000, 1, [])
    assert calls.read_text().split()[-1] == "--resume"


def test_on_a_fresh_clone_one_unfinished_run_draws_the_shared_ising_data_first(tmp_path, monkeypatch):
    """The first run of a (sigma, seed) may be finished already (its results are committed) while the
    data file is not there: the first *unfinished* run must draw it alone, before the others start."""
    spec = importlib.util.spec_from_file_location(
        "compare_estimators_run", os.path.join(SCRIPTS, "..", "benchmarks", "compare_estimators", "run.py"))
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    monkeypatch.setattr(run, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(run, "WORK", tmp_path / "work")
    names = ["sigma0.1_a", "sigma0.1_b", "sigma0.1_c", "sigma0.1_d"]
    run.SETTINGS["isingtest"] = dict(program="train_ising", keep=[], runs=[(n, ["--sigma", "0.1"]) for n in names])
    finished = run.RESULTS / "isingtest" / "sigma0.1_a_s1"
    finished.mkdir(parents=True)
    (finished / "summary.json").write_text("{}")
    # The stand-in trainer notes whether it found the data file, then (slowly) writes it if missing.
    (tmp_path / "build" / "examples").mkdir(parents=True)
    program = tmp_path / "build" / "examples" / "train_ising"
    program.write_text(f"""#!/bin/sh
out=""; data=""
while [ $# -gt 0 ]; do
  case "$1" in --out) out="$2"; shift;; --data-file) data="$2"; shift;; esac; shift
done
if [ -e "$data" ]; then echo found >> {tmp_path}/calls.txt; else echo drew >> {tmp_path}/calls.txt; sleep 0.3; echo x > "$data"; fi
echo '{{"failed": false}}' > "$out/summary.json"
echo "iteration" > "$out/log.csv"
""")
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr("sys.argv", ["run.py", "--build", str(tmp_path / "build"), "--setting", "isingtest",
                                     "--seeds", "1", "--jobs", "3"])
    assert run.main() == 0
    assert sorted((tmp_path / "calls.txt").read_text().split()) == ["drew", "found", "found"]


def test_the_full_budget_page_says_where_we_are_worse_than_the_paper(tmp_path):
    reproduce = load_script("reproduce_synthetic")
    paper = reproduce.PAPER["gg-advanced"][0]  # 2spirals
    noisy = {"mmd_paper": {"hamming": paper + 0.003}, "mmd_paper_repeats": [0.010, 0.012, 0.014]}  # sd 0.002
    assert reproduce.compare_to_paper(noisy, paper) == "within the noise of"
    assert reproduce.compare_to_paper(dict(noisy, mmd_paper={"hamming": paper + 0.005}), paper) == "worse than"
    assert reproduce.compare_to_paper(dict(noisy, mmd_paper={"hamming": paper - 0.005}), paper) == "better than"
    assert reproduce.compare_to_paper(dict(noisy, mmd_paper_repeats=[]), paper) == "not compared with"
    assert reproduce.compare_to_paper(dict(noisy, mmd_paper={"hamming": None}), paper) == "not compared with"
    for seed, value in ((1, paper + 0.02), (2, paper + 0.03), (3, paper + 0.025)):
        name = reproduce.run_name("2spirals", "gg-advanced", "squared", seed)
        summary = dict(noisy, mmd_paper={"hamming": value}, mmd_consistent={"hamming": value},
                       mmd_consistent_repeats=noisy["mmd_paper_repeats"])
        (tmp_path / f"{name}.json").write_text(json.dumps(summary))
        (tmp_path / f"{name}_log.csv").write_text(f"iteration,mmd_paper,mmd_consistent\n100000,{value},{value}\n")
    reproduce.full_budget_page(str(tmp_path), str(tmp_path / "page.md"))
    page = (tmp_path / "page.md").read_text()
    assert "1 of 21 published cells finished" in page
    assert "**worse than the paper**: 2spirals gg-advanced" in page
    assert "| 2spirals, gg-advanced | 0.0288 | 0.0388 | 0.0338 | 0.0338 ± 0.0050 | 0.00876 | no, we are worse |" in page


def test_the_full_budget_page_shows_the_grid_kl_of_the_evaluations_tied_with_the_best_mmd(tmp_path):
    reproduce = load_script("reproduce_synthetic")
    # (iteration, MMD, grid KL): checkerboard's lowest MMD before the shape is learned, a tie after it
    rows = {"checkerboard": [(5000, 0.001, 0.70), (10000, 0.0015, 0.09), (15000, 0.02, 0.08)],
            "moons": [(5000, 0.05, 0.60), (10000, 0.02, 0.40)],
            "circles": [(5000, 0.05, ""), (10000, 0.03, 0.30)],  # an evaluation without a grid KL
            "pinwheel": [(5000, 0.2, None), (10000, 0.1, None)]}  # a log without the column
    for data, log in rows.items():
        name = reproduce.run_name(data, "gg-advanced", "squared", 1)
        summary = {"mmd_paper": {"hamming": log[-1][1]}, "mmd_consistent": {"hamming": log[-1][1]},
                   "mmd_paper_repeats": [0.019, 0.020, 0.021]}  # sd 0.001
        (tmp_path / f"{name}.json").write_text(json.dumps(summary))
        columns = "iteration,mmd_paper" + ("" if log[0][2] is None else ",grid_kl_paper")
        (tmp_path / f"{name}_log.csv").write_text(columns + "\n" + "".join(
            f"{i},{m}" + ("" if k is None else f",{k}") + "\n" for i, m, k in log))
    floor = {"mean": 0.0, "sd": 0.001}
    baselines = {d: {"uniform_box": {"mean": 0.5, "sd": 0.01}, "uniform_bits": {"mean": 0.9, "sd": 0.03}, "data": floor}
                 for d in reproduce.DATASETS}
    baselines["checkerboard"]["uniform_box"] = {"mean": 0.0014, "sd": 0.0029}
    (tmp_path / "mmd_baselines.json").write_text(json.dumps({"samples": 4000, "repeats": 10, "datasets": baselines}))
    reproduce.full_budget_page(str(tmp_path), str(tmp_path / "page.md"))
    page = (tmp_path / "page.md").read_text()
    assert "| uniform on the bounding box | 0.5000 ± 0.0100 |" in page
    assert "so no evidence of the learned shape: checkerboard." in page
    assert "**no comparison possible**" in page and ": checkerboard gg-advanced (worse than it)" in page
    assert "**better than the paper**: circles gg-advanced, moons gg-advanced, pinwheel gg-advanced" in page
    assert "| gg-advanced | not yet | not yet | 0.300 / 0.300 | 0.400 / 0.400 | — | not yet | 0.080 / 0.090–0.700 |" in page
    assert "checkerboard gg-advanced (grid KL 0.090 to 0.700; 0.080 at the end)" in page
    assert "moons gg-advanced (" not in page
    assert "Runs whose fit got worse" not in page
    # a run that learned and then lost the shape
    name = reproduce.run_name("swissroll", "gg-advanced", "squared", 1)
    (tmp_path / f"{name}.json").write_text(json.dumps({"mmd_paper": {"hamming": 0.1}, "mmd_consistent": {"hamming": 0.1}}))
    (tmp_path / f"{name}_log.csv").write_text(
        "iteration,mmd_paper,grid_kl_paper\n5000,0.05,0.60\n10000,0.02,0.20\n15000,0.1,0.41\n")
    reproduce.full_budget_page(str(tmp_path), str(tmp_path / "page.md"))
    page = (tmp_path / "page.md").read_text()
    assert "see\ntheir loss in the log): swissroll gg-advanced (grid KL 0.200 at 10,000 updates, 0.410 at the end)." in page


def test_only_trains_the_runs_whose_name_matches(tmp_path):
    build, calls = fake_build(tmp_path)
    script = os.path.join(SCRIPTS, "reproduce_synthetic.py")
    done = subprocess.run([sys.executable, script, "--full", "--runs-only", "--jobs", "1", "--build",
                           build, "--out", str(tmp_path / "out"), "--results",
                           str(tmp_path / "results"), "--docs", str(tmp_path), "--only",
                           "^(moons_gg-basic_squared|checkerboard_rm_squared_seed3)$"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = sorted(calls.read_text().splitlines())
    assert len(lines) == 2
    assert "--data checkerboard --estimator rm" in lines[0] and "--seed 3" in lines[0]
    assert "--data moons --estimator gg-basic" in lines[1]


def test_the_full_budget_page_is_synthetic_md_and_the_shorter_grid_has_its_own(tmp_path):
    build, _ = fake_build(tmp_path)
    script = os.path.join(SCRIPTS, "reproduce_synthetic.py")
    common = ["--build", build, "--docs", str(tmp_path / "docs"), "--jobs", "2"]
    short = subprocess.run([sys.executable, script, "--iters", "10", "--out", str(tmp_path / "short")] + common,
                           capture_output=True, text=True)
    assert short.returncode == 0, short.stderr
    assert sorted(os.listdir(tmp_path / "docs")) == ["synthetic", "synthetic_5000.md"]
    page = (tmp_path / "docs" / "synthetic_5000.md").read_text()
    assert page.startswith("# Synthetic binary data (d = 32) at 10 updates")
    assert "[synthetic.md](synthetic.md)" in page
    full = subprocess.run([sys.executable, script, "--full", "--page-only", "--out", str(tmp_path / "full")] + common,
                          capture_output=True, text=True)
    assert full.returncode == 0, full.stderr
    page = (tmp_path / "docs" / "synthetic.md").read_text()
    assert "at the paper's full budget" in page and "0 of 21 published cells finished" in page
    assert "[synthetic_5000.md](synthetic_5000.md)" in page
