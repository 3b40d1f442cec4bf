"""The program the valid sweeps of this folder name."""
