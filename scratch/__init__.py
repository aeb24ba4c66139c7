"""dlparity's from-scratch side: every concept in NumPy, in the course notes' notation.

Examples are columns (``X (n_x, m)``, ``Y (1, m)``), ``W[l] (n[l], n[l-1])``, ``b[l] (n[l], 1)``.
Nothing under this package imports torch (a test enforces it).
"""
