"""barnebot: children's rights under Barnets lov, in plain Danish."""

__version__ = "0.1.0"
