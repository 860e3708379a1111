"""Optional output formats kept away from the core, such as Mermaid diagrams of a definition.

Nothing in the engine imports from here: a host that never draws a diagram never loads it.
"""
