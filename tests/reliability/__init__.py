"""Nothing lost, nobody let in: crashes, outages, races, replays and hostile input (issue 4)."""
