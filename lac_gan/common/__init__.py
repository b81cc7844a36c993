"""The small helpers every layer shares, knowing nothing of faces, AUs or nets: how a command reports
bad input (`errors`), JSON and text files written atomically (`json_files`), one process per output
folder (`locks`), progress lines with rate and ETA (`progress`), package versions for manifests
(`provenance`) and a frozen configuration saved in its logdir (`saved_config`).

May import: nothing of lac_gan outside this package (it is the lowest layer).
"""
