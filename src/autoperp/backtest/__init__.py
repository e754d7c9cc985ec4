"""Run any policy (an object with ``decide``) over history through ``sim``; rule strategies; reports;
lookahead analysis (DESIGN.md §2, layer 4)."""
