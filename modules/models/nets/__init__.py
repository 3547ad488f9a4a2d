"""Network definitions whose attribute paths are the LDM/SGM checkpoint keys."""
