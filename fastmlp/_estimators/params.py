"""get_params / set_params / repr in scikit-learn's style, without needing scikit-learn."""
import inspect


class ParamsMixin:
    """Hyper-parameters are exactly the keyword arguments of ``__init__``."""

    @classmethod
    def _param_names(cls):
        signature = inspect.signature(cls.__init__)
        return sorted(name for name, p in signature.parameters.items()
                      if name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep=True):
        """Get the hyper-parameters of this estimator.

        Parameters
        ----------
        deep : bool, default=True
            Ignored; fastmlp estimators hold no nested estimators.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set hyper-parameters; unknown names raise ValueError.

        Returns
        -------
        self : estimator
        """
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for {type(self).__name__}; "
                                 f"valid parameters are {valid}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        defaults = {name: p.default for name, p in
                    inspect.signature(type(self).__init__).parameters.items()}
        changed = [f"{name}={value!r}" for name, value in self.get_params().items()
                   if not _same(value, defaults.get(name))]
        return f"{type(self).__name__}({', '.join(changed)})"


def _same(a, b):
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # arrays and other odd values: call them different
        return False
