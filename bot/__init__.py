"""A bilingual guide through Alibaba.com enterprise certification and Strength Merchant."""

__version__ = "0.1.0"
