"""A1111's ``modules.hypernetworks`` import path; the code lives in :mod:`modules.networks.hypernetworks`."""
