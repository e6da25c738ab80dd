from pyrt.ops.cli import main

main()
