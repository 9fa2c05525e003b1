# The small lists that the kernels and Python share, each defined once here: a
# `cpdef enum` is a C enum to the kernels and an enum class to Python
# (fastmlp._kernels.common.Status, .TeamMode).

cpdef enum Status:
    # What train_epoch reports; Python turns it into an exception.
    OK = 0
    INTERRUPTED = 1     # a signal handler raised (Ctrl-C); re-raised after the loop stopped
    DIVERGED = 2        # a minibatch loss was not finite; that step was not applied

cpdef enum TeamMode:
    # How a step with several parts runs.
    ADAPTIVE = 0        # the team, or one thread playing it while that measures faster
    ALWAYS = 1          # the team
    SERIAL = 2          # one thread playing the team (tests)
