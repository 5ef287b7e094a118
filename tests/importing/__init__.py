"""Tests of importing/: sniffing, readers, column matching, row rules, hostile files."""
