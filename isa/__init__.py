"""isa: the tile accelerator (instruction set, encoding, assembler, emulator, timing, profile)."""
