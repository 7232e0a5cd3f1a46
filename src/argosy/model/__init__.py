"""Layer 0, vocabulary: frozen dataclasses, enums and annotation names shared by every layer.

May import: the standard library only. No I/O.
"""
