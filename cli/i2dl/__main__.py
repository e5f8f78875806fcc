from i2dl.cli import main

if __name__ == "__main__":  # guarded: worker processes started by spawn import this module
    main()
