"""Thin routes, one module per audience: partner agencies, operators, devices."""
