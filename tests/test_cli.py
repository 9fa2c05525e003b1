"""The fastmlp command line: demo, train, evaluate, predict, and its errors.

Commands run in a subprocess (``python -m fastmlp``, in a temporary directory) where
the exit code and the exact stderr matter, and through ``fastmlp.cli.main`` where only
the output does. Sizes are tiny, except for the one Fashion-MNIST acceptance run.
"""
import gzip
import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp.cli import main
from fastmlp.datasets import FASHION_MNIST_DIR, make_digits

from helpers import interrupt_after_first_epoch

try:
    import matplotlib  # noqa: F401
    HAVE_MATPLOTLIB = True
except ImportError:
    HAVE_MATPLOTLIB = False

needs_matplotlib = pytest.mark.skipif(not HAVE_MATPLOTLIB,
                                      reason="matplotlib is not installed (pip install "
                                             "fastmlp[plot])")
PICTURES = ("network.png", "backprop.png", "training.png", "confusion.png",
            "first_layer.png")
# the subprocess imports the same fastmlp as this test process
ENV = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fastmlp.__file__)))
TINY = ["--hidden", "16", "--epochs", "2", "--batch-size", "32"]


def run(cwd, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "fastmlp", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=ENV)


def call(capsys, *args):
    """fastmlp.cli.main in this process, as (returncode, stdout, stderr)."""
    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exit_:   # argparse's usage errors
        code = exit_.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def assert_one_line_error(done, *fragments, code=None):
    assert done.returncode != 0 if code is None else done.returncode == code, done
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "error" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def accuracy_in(stdout):
    return float(re.search(r"test accuracy (\d\.\d+)", stdout).group(1))


@pytest.fixture(scope="module")
def digits_npz(tmp_path_factory):
    """Tiny digits with a test split, as the .npz that train reads."""
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    X, y = make_digits(400, random_state=0)
    X_test, y_test = make_digits(100, random_state=1)
    np.savez(path, X=X, y=y, X_test=X_test, y_test=y_test)
    return path


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, digits_npz):
    path = tmp_path_factory.mktemp("model") / "model.npz"
    assert main(["train", "--data", str(digits_npz), "--out", str(path), "--quiet",
                 *TINY]) == 0
    return path


# --- help ----------------------------------------------------------------------------


def test_fastmlp_help_lists_the_commands(tmp_path):
    done = run(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    for command in ("demo", "train", "evaluate", "predict", "export", "bench"):
        assert command in done.stdout


@pytest.mark.parametrize("command, options", [
    ("demo", ["--out-dir", "--no-pictures", "--seed"]),
    ("train", ["--data", "--hidden", "--epochs", "--batch-size", "--lr", "--activation",
               "--solver", "--alpha", "--seed", "--dtype", "--dropout", "--engine", "--plot",
               "--out", "--label-column"]),
    ("evaluate", ["--model", "--data"]),
    ("predict", ["--model", "--input", "--proba", "--output"]),
])
def test_every_command_has_help_naming_its_options(command, options, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in options:
        assert option in text


# --- demo ----------------------------------------------------------------------------

DEMO_TINY = ["--samples", "600", "--validation-samples", "100", "--test-samples", "200",
             "--epochs", "2", "--hidden", "32,16"]


def test_demo_trains_both_engines_prints_progress_accuracy_speed_up_and_draws(tmp_path):
    done = run(tmp_path, "demo", *DEMO_TINY)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("test accuracy") == 2
    assert "cython engine" in out and "numpy engine" in out
    # a progress line per epoch and engine: loss, validation accuracy, speed
    progress = re.findall(r"epoch \d/2  loss \d+\.\d+  validation accuracy \d\.\d+ +"
                          r"[\d,]+ samples/s", out)
    assert len(progress) == 4, out
    assert re.search(r"speed-up of the Cython engine over the NumPy reference: "
                     r"\d+\.\dx", out)
    if HAVE_MATPLOTLIB:
        for name in PICTURES:
            assert (tmp_path / "fastmlp-demo" / name).stat().st_size > 5000, name
    else:
        assert "pip install fastmlp[plot]" in done.stderr


def test_demo_writes_pictures_to_out_dir_or_none_with_no_pictures(tmp_path):
    assert main(["demo", *DEMO_TINY, "--epochs", "1", "--no-pictures",
                 "--out-dir", str(tmp_path / "none")]) == 0
    assert not (tmp_path / "none").exists()
    if HAVE_MATPLOTLIB:
        assert main(["demo", *DEMO_TINY, "--epochs", "1",
                     "--out-dir", str(tmp_path / "pics")]) == 0
        assert sorted(os.listdir(tmp_path / "pics")) == sorted(PICTURES)


def test_demo_without_matplotlib_still_trains_and_says_how_to_get_pictures(tmp_path):
    # sys.modules[name] = None makes `import name` fail as if it were not installed
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from fastmlp.cli import main\n"
            f"sys.exit(main(['demo', *{DEMO_TINY!r}, '--epochs', '1']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env=ENV)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("test accuracy") == 2
    assert "pip install fastmlp[plot]" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "fastmlp-demo").exists()


def test_demo_rejects_bad_arguments_with_a_one_line_message(capsys):
    assert_one_line_error(call(capsys, "demo", "--samples", "0"), "--samples", code=2)


# --- train, evaluate, predict --------------------------------------------------------


def test_train_saves_a_model_that_evaluate_and_predict_use(tmp_path, digits_npz):
    model = tmp_path / "model.npz"
    done = run(tmp_path, "train", "--data", str(digits_npz), "--out", "model.npz", *TINY,
               "--hidden", "32,16", "--seed", "3")
    assert done.returncode == 0, done.stderr
    assert re.search(r"epoch 2/2  loss \d+\.\d+ +[\d,]+ samples/s", done.stdout)
    assert "on the test split (100 samples)" in done.stdout
    accuracy = accuracy_in(done.stdout)
    loaded = fastmlp.load(model)
    assert [W.shape for W in loaded.coefs_] == [(784, 32), (32, 16), (16, 10)]
    assert loaded.coefs_[0].dtype == np.float32 and loaded.random_state == 3
    data = np.load(digits_npz)
    assert accuracy == pytest.approx(loaded.score(data["X_test"], data["y_test"]), abs=1e-4)

    done = run(tmp_path, "evaluate", "--model", "model.npz", "--data", str(digits_npz))
    assert done.returncode == 0, done.stderr
    assert f"accuracy {accuracy:.4f}" in done.stdout
    assert "precision" in done.stdout and "recall" in done.stdout and "f1" in done.stdout
    assert "confusion matrix" in done.stdout
    matrix = [line for line in done.stdout.splitlines()[-10:]]
    assert sum(int(v.replace(",", "")) for line in matrix for v in line.split()[1:]) == 100

    np.save(tmp_path / "inputs.npy", data["X_test"][:7])
    done = run(tmp_path, "predict", "--model", "model.npz", "--input", "inputs.npy")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(v) for v in loaded.predict(data["X_test"][:7])]


def test_train_takes_every_solver_and_activation_and_saves_them(tmp_path, digits_npz):
    # the choices come from the registry: AdamW with its weight decay, and GELU
    done = run(tmp_path, "train", "--data", str(digits_npz), "--out", "model.npz", *TINY,
               "--hidden", "16", "--solver", "adamw", "--weight-decay", "0.05",
               "--activation", "gelu")
    assert done.returncode == 0, done.stderr
    loaded = fastmlp.load(tmp_path / "model.npz")
    assert (loaded.solver, loaded.weight_decay, loaded.activation) == ("adamw", 0.05, "gelu")
    done = run(tmp_path, "train", "--data", str(digits_npz), *TINY, "--solver", "adagrad")
    assert done.returncode == 2 and "invalid choice: 'adagrad'" in done.stderr


def test_predict_reads_npz_csv_npy_and_writes_probabilities(tmp_path, model_path):
    model = fastmlp.load(model_path)
    X, _ = make_digits(5, random_state=7)
    np.savez(tmp_path / "x.npz", X=X)
    np.savetxt(tmp_path / "x.csv", X, delimiter=",", fmt="%.9g",
               header=",".join(f"p{i}" for i in range(784)), comments="")
    np.save(tmp_path / "x.npy", X)
    expected = [str(v) for v in model.predict(X)]
    for name in ("x.npz", "x.csv", "x.npy"):
        assert main(["predict", "--model", str(model_path), "--input",
                     str(tmp_path / name), "--output", str(tmp_path / "out.txt")]) == 0
        assert (tmp_path / "out.txt").read_text().split() == expected, name
    assert main(["predict", "--model", str(model_path), "--input", str(tmp_path / "x.npy"),
                 "--proba", "--output", str(tmp_path / "proba.txt")]) == 0
    header, *rows = (tmp_path / "proba.txt").read_text().splitlines()
    assert header == ",".join(str(label) for label in model.classes_)   # the columns' classes
    proba = np.loadtxt(rows, delimiter=",")
    assert proba.shape == (5, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-4)
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-5)


def test_predict_prints_one_label_per_line_on_stdout(model_path, tmp_path, capsys):
    X, _ = make_digits(3, random_state=8)
    np.save(tmp_path / "x.npy", X)
    assert main(["predict", "--model", str(model_path), "--input",
                 str(tmp_path / "x.npy")]) == 0
    assert capsys.readouterr().out.splitlines() == \
        [str(v) for v in fastmlp.load(model_path).predict(X)]


@pytest.mark.parametrize("proba", [False, True])
def test_predict_into_a_pipe_nobody_reads_ends_quietly(model_path, tmp_path, proba):
    """`fastmlp predict ... | head`: once the reader has gone, the command stops with
    code 141 (128 + SIGPIPE, as `seq` gets) and says nothing, neither an error line
    nor Python's report of a failed flush at exit."""
    X, _ = make_digits(2000, random_state=8)
    np.save(tmp_path / "x.npy", X)
    read_end, write_end = os.pipe()
    os.close(read_end)   # the reader has gone before the first line
    try:
        done = subprocess.run([sys.executable, "-m", "fastmlp", "predict", "--model",
                               str(model_path), "--input", str(tmp_path / "x.npy"),
                               *(["--proba"] if proba else [])],
                              stdout=write_end, stderr=subprocess.PIPE, text=True,
                              timeout=300, cwd=tmp_path, env=ENV)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")


def test_export_writes_a_c_forward_pass(model_path, tmp_path, capsys):
    done = call(capsys, "export", "--model", str(model_path), "--format", "c", "--out",
                str(tmp_path / "digits.c"), "--name", "digits_net")
    assert done.returncode == 0, done.stderr
    assert str(tmp_path / "digits.h") in done.stdout
    header = (tmp_path / "digits.h").read_text()
    assert "int digits_net_predict(const float* x);" in header \
        or "int digits_net_predict(const double* x);" in header
    assert "digits_net_predict_proba" in (tmp_path / "digits.c").read_text()


def test_export_writes_an_onnx_model(model_path, tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    out = tmp_path / "digits.onnx"
    done = call(capsys, "export", "--model", str(model_path), "--format", "onnx", "--out",
                str(out))
    assert done.returncode == 0, done.stderr
    assert str(out) in done.stdout
    onnx.checker.check_model(onnx.load(str(out)))
    model = fastmlp.load(model_path)
    X, _ = make_digits(20, random_state=3)
    X = X.astype(model.coefs_[0].dtype)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    label, proba = session.run(["label", "probabilities"], {"X": X})
    np.testing.assert_array_equal(label, model.predict(X))
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=1e-5, atol=1e-6)
    assert_one_line_error(call(capsys, "export", "--model", str(model_path), "--format",
                               "onnx", "--out", str(out), "--name", "x"), "--name")


def test_export_errors_are_one_line(model_path, tmp_path, capsys):
    assert_one_line_error(call(capsys, "export", "--model", str(tmp_path / "none.npz"),
                               "--out", str(tmp_path / "m")), "no such file")
    assert_one_line_error(call(capsys, "export", "--model", str(model_path), "--out",
                               str(tmp_path / "missing" / "m")), "does not exist")
    assert_one_line_error(call(capsys, "export", "--model", str(model_path), "--out",
                               str(tmp_path / "m"), "--name", "1bad"), "C identifier")
    assert_one_line_error(call(capsys, "export", "--model", str(model_path), "--format",
                               "rust", "--out", str(tmp_path / "m")), "rust", code=2)


def test_train_on_csv_holds_out_a_test_fraction_and_finds_the_label_column(tmp_path,
                                                                            capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    rows = ["a,b,label,c,d"] + [f"{r[0]},{r[1]},{label},{r[2]},{r[3]}"
                                for r, label in zip(X, y)]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    assert main(["train", "--data", str(tmp_path / "data.csv"), "--label-column", "label",
                 "--test-fraction", "0.25", "--epochs", "10", "--hidden", "8", "--lr", "0.02",
                 "--batch-size", "50", "--quiet", "--out", str(tmp_path / "m.npz")]) == 0
    out = capsys.readouterr().out
    assert "150 training and 50 test samples" in out and "held-out 0.25" in out
    assert accuracy_in(out) >= 0.8
    assert list(fastmlp.load(tmp_path / "m.npz").classes_) == ["no", "yes"]
    # the label in the last column (the default), no header
    np.savetxt(tmp_path / "last.csv", np.column_stack([X, X[:, 0] > 0]), delimiter=",")
    assert main(["train", "--data", str(tmp_path / "last.csv"), "--quiet", "--epochs", "2",
                 "--hidden", "4"]) == 0
    assert "4 features, 2 classes" in capsys.readouterr().out


def write_idx(path, array):
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + \
        struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as file:
        file.write(header + array.tobytes())


@pytest.fixture
def mnist_dir(tmp_path):
    """A tiny MNIST-format directory (gzip IDX files) of synthetic digits."""
    directory = tmp_path / "mnist"
    directory.mkdir()
    for split, n, seed in (("train", 300, 0), ("t10k", 60, 1)):
        X, y = make_digits(n, random_state=seed)
        write_idx(directory / f"{split}-images-idx3-ubyte.gz",
                  (X * 255).round().astype(np.uint8).reshape(n, 28, 28))
        write_idx(directory / f"{split}-labels-idx1-ubyte.gz", y.astype(np.uint8))
    return directory


def test_train_reads_an_mnist_directory_and_evaluate_prints_the_report(mnist_dir, tmp_path,
                                                                        capsys):
    model = tmp_path / "m.npz"
    assert main(["train", "--data", f"mnist:{mnist_dir}", "--out", str(model), "--quiet",
                 *TINY]) == 0
    assert "300 training and 60 test samples" in capsys.readouterr().out
    assert main(["evaluate", "--model", str(model), "--data", f"mnist:{mnist_dir}"]) == 0
    out = capsys.readouterr().out
    assert "60 samples" in out and "macro avg" in out and "weighted avg" in out


@needs_matplotlib
def test_train_plot_writes_the_pictures(tmp_path, digits_npz, capsys):
    assert main(["train", "--data", str(digits_npz), "--plot", str(tmp_path / "pics"),
                 "--quiet", "--validation-fraction", "0.2", *TINY]) == 0
    assert sorted(os.listdir(tmp_path / "pics")) == sorted(PICTURES)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST_DIR),
                    reason=f"Fashion-MNIST is not installed in {FASHION_MNIST_DIR} "
                           "(Debian: apt-get install dataset-fashion-mnist)")
def test_train_fashion_mnist_10_epochs_with_the_defaults_reaches_088(tmp_path):
    done = run(tmp_path, "train", "--data", "fashion-mnist", "--epochs", "10", timeout=900)
    assert done.returncode == 0, done.stderr
    assert "784-256-128-10" in done.stdout and "float32" in done.stdout
    assert accuracy_in(done.stdout) >= 0.88, done.stdout


# --- errors: exit code and one line on stderr, no traceback ------------------------


@pytest.fixture
def corrupt_mnist_dir(mnist_dir):
    (mnist_dir / "train-images-idx3-ubyte.gz").write_bytes(b"\x00\x00\x08\x03garbage")
    return mnist_dir


def test_missing_data_file(tmp_path):
    assert_one_line_error(run(tmp_path, "train", "--data", "missing.npz"), "missing.npz",
                          "no such file", code=1)


def test_missing_mnist_directory(capsys):
    assert_one_line_error(call(capsys, "train", "--data", "mnist:nowhere"), "nowhere",
                          code=1)


def test_corrupt_idx_file(tmp_path, corrupt_mnist_dir):
    assert_one_line_error(run(tmp_path, "train", "--data", f"mnist:{corrupt_mnist_dir}"),
                          "train-images-idx3-ubyte", "IDX", code=1)


def test_truncated_gzip_idx_file(capsys, mnist_dir):
    path = mnist_dir / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    assert_one_line_error(call(capsys, "train", "--data", f"mnist:{mnist_dir}"),
                          "t10k-labels-idx1-ubyte.gz", "gzip", code=1)


@pytest.mark.parametrize("arrays, fragment", [
    ({"X": np.zeros(5), "y": np.zeros(5)}, "2-D"),
    ({"X": np.zeros((5, 3)), "y": np.zeros(4)}, "5 samples but 4 labels"),
    ({"X": np.zeros((5, 3)), "y": np.zeros((5, 2))}, "1-D"),
    ({"Z": np.zeros((5, 3))}, "no array X or y"),
    ({"X": np.zeros((5, 3)), "y": np.zeros(5), "X_test": np.zeros((2, 4)),
      "y_test": np.zeros(2)}, "features"),
])
def test_wrong_shapes_in_npz_data(tmp_path, capsys, arrays, fragment):
    np.savez(tmp_path / "data.npz", **arrays)
    assert_one_line_error(call(capsys, "train", "--data", str(tmp_path / "data.npz")),
                          fragment, code=1)


def test_corrupt_npz_file(tmp_path, capsys):
    (tmp_path / "data.npz").write_bytes(b"PK\x03\x04 not really a zip")
    assert_one_line_error(call(capsys, "train", "--data", str(tmp_path / "data.npz")),
                          "data.npz", code=1)


def test_csv_with_a_non_number(tmp_path, capsys):
    (tmp_path / "data.csv").write_text("1,2,0\n3,oops,1\n")
    assert_one_line_error(call(capsys, "train", "--data", str(tmp_path / "data.csv")),
                          "line 2", "'oops'", code=1)


def test_wrong_feature_count_for_the_model(tmp_path, model_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 5)))
    assert_one_line_error(run(tmp_path, "predict", "--model", str(model_path), "--input",
                              "x.npy"), "5 features", "expects 784", code=1)


def test_wrong_feature_count_for_evaluate(tmp_path, capsys, model_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((3, 5)), y=np.zeros(3))
    assert_one_line_error(call(capsys, "evaluate", "--model", str(model_path), "--data",
                               str(tmp_path / "d.npz")), "expects 784", code=1)


def test_a_file_that_is_not_a_model(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((3, 784)))
    (tmp_path / "m.npz").write_bytes(b"not a model")
    for model in ("m.npz", "absent.npz"):
        assert_one_line_error(call(capsys, "predict", "--model", str(tmp_path / model),
                                   "--input", str(tmp_path / "x.npy")), model, code=1)


def test_bad_hidden_value(tmp_path):
    assert_one_line_error(run(tmp_path, "train", "--data", "digits", "--hidden", "256,abc"),
                          "--hidden", "256,abc", code=2)


@pytest.mark.parametrize("hidden", ["0", "-3", "1.5", "256,,128"])
def test_more_bad_hidden_values(capsys, hidden):
    assert_one_line_error(call(capsys, "train", "--data", "digits", "--hidden", hidden),
                          "--hidden", code=2)


@pytest.mark.parametrize("args, fragment", [
    (["train", "--data", "weather"], "unknown --data"),
    (["train", "--data", "digits", "--epochs", "0"], "--epochs"),
    (["train", "--data", "digits", "--lr", "-1"], "--lr"),
    (["train", "--data", "digits", "--dropout", "1.5"], "--dropout"),
    (["train", "--data", "digits", "--dropout", "0.1,0.1,0.1"], "3 rates"),
    (["train", "--data", "digits", "--out", "nowhere/m.npz"], "does not exist"),
    (["train"], "--data"),
    (["teach"], "invalid choice"),
    (["bench", "--config", "256/0/float32"], "--config"),
])
def test_bad_arguments(tmp_path, capsys, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(call(capsys, *args), fragment)


def test_train_plot_without_matplotlib_fails_before_training(tmp_path, digits_npz):
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from fastmlp.cli import main\n"
            f"sys.exit(main(['train', '--data', {str(digits_npz)!r}, '--plot', 'pics']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=ENV)
    assert_one_line_error(done, "pip install fastmlp[plot]", code=1)
    assert done.stdout == ""   # nothing was loaded or trained


def test_an_interrupted_train_saves_the_model_of_the_last_whole_epoch(tmp_path, digits_npz):
    # Ctrl-C as a terminal sends it, once the first epoch's line is out
    returncode, stderr = interrupt_after_first_epoch(
        ["train", "--data", str(digits_npz), "--out", "model.npz", "--hidden", "64",
         "--epochs", "1000", "--batch-size", "1"], tmp_path, ENV)
    assert returncode == 130, stderr
    said = re.search(r"interrupted in epoch (\d+): the model of the last whole epoch "
                     r"\((\d+)\) saved to model.npz", stderr)
    assert said, stderr
    assert "Traceback" not in stderr
    saved = fastmlp.load(tmp_path / "model.npz")
    assert saved.n_iter_ == int(said.group(2)) == int(said.group(1)) - 1 >= 1
    assert saved.predict(np.zeros((1, saved.n_features_in_))).shape == (1,)


def test_a_recipe_sets_the_parameters_the_options_do_not(tmp_path, digits_npz, capsys):
    from fastmlp.cli.commands import training_params
    from fastmlp.cli.parser import build_parser
    from fastmlp.recipes import RECIPES
    recipe = RECIPES["fashion-mnist"]
    args = build_parser().parse_args(["train", "--data", "digits", "--recipe",
                                      "fashion-mnist", "--epochs", "2", "--lr", "0.01"])
    params = training_params(args)
    assert params["max_iter"] == 2 and params["learning_rate_init"] == 0.01   # given
    for name in ("hidden_layer_sizes", "lr_schedule", "label_smoothing", "dropout",
                 "warmup_epochs", "tol"):
        assert params[name] == recipe[name]                                  # recipe's
    plain = training_params(build_parser().parse_args(["train", "--data", "digits"]))
    assert plain["hidden_layer_sizes"] == (256, 128) and plain["lr_schedule"] == "constant"
    assert main(["train", "--data", str(digits_npz), "--recipe", "fashion-mnist",
                 "--hidden", "16", "--epochs", "2", "--quiet",
                 "--out", str(tmp_path / "m.npz")]) == 0
    assert "cosine schedule, 1 warm-up epochs" in capsys.readouterr().out
    model = fastmlp.load(tmp_path / "m.npz")
    assert model.lr_schedule == "cosine" and model.label_smoothing == recipe["label_smoothing"]
    assert len(model.learning_rate_curve_) == 2
