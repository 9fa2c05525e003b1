"""The registry (fastmlp/_engine/registry.py): each list is read from the kernel that
defines it, and everything that names its entries names all of them."""
import inspect

from fastmlp import MLPClassifier, MLPRegressor, reference
from fastmlp._engine import registry
from fastmlp._kernels import activations, common, losses, optimizers


def test_lists_come_from_the_kernels_tables_in_their_order():
    assert [a.name for a in registry.ACTIVATIONS.values()] == [
        row[0] for row in activations.TABLE]
    assert [a.code for a in registry.ACTIVATIONS.values()] == list(
        range(len(activations.TABLE)))
    assert list(registry.LOSSES) == [row[0] for row in losses.TABLE]
    assert list(registry.OPTIMIZERS) == [row[0] for row in optimizers.TABLE]
    assert registry.SOLVERS == (*registry.OPTIMIZERS, "lbfgs")
    assert registry.TEAM_MODES == {m.name.lower(): int(m) for m in common.TeamMode}


def test_every_output_activation_has_its_loss_and_every_hidden_one_a_derivative():
    assert set(registry.OUTPUT_ACTIVATIONS) == set(registry.LOSS_FOR_OUTPUT)
    for name in registry.HIDDEN_ACTIVATIONS:
        assert registry.ACTIVATIONS[name].reads in ("output", "preactivation")
        assert name in reference.DERIVATIVES


def test_every_optimizer_reads_estimator_parameters():
    for estimator in (MLPClassifier, MLPRegressor):
        params = inspect.signature(estimator.__init__).parameters
        for optimizer in registry.OPTIMIZERS.values():
            assert set(optimizer.hyper) <= set(params), (estimator, optimizer)


def test_the_estimators_document_every_activation_and_solver():
    # MLPRegressor's docstring refers to MLPClassifier's for the shared parameters
    for name in (*registry.HIDDEN_ACTIVATIONS, *registry.SOLVERS):
        assert repr(name) in MLPClassifier.__doc__, name
    assert "MLPClassifier" in MLPRegressor.__doc__
