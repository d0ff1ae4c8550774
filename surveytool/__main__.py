"""``python -m surveytool``."""

if __name__ == "__main__":
    from surveytool.entry import main

    main()
