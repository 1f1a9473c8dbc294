from resbench.cli.app import run

run()
