"""ashiato (足跡, "footprints"): reconstruct a ransomware or malware incident from logs."""

__version__ = "0.1.0"
