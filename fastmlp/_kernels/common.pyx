"""Python's view of the enums in common.pxd (Status, TeamMode)."""
