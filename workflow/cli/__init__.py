"""The ``convalescence`` command line: a thin click + rich shell over `workflow.Engine`.

``main`` (in `workflow.cli.main`) is the console-script entry point; each command group lives in
its own module (`db`, `definitions`, `cases`) and `output` renders tables, JSON and errors.
"""
