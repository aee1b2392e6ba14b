"""JXC: purchasing, sales, inventory and double-entry books in one database."""

__version__ = "0.1.0"
