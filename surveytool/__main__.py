"""``python -m surveytool``."""

from surveytool.cli import main

main()
