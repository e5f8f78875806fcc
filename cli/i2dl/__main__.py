from i2dl.cli import main

main()
