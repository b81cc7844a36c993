"""The networks: the per-AU layers (`per_au_layers`: 12 sub-models in one layer), the paper's 12
CARGs and their discriminators (`cargs`), their configuration and presets (`config`: LacGanConfig),
VGG-Face for the identity loss (`vggface`), a trained generator applied through Eq. 1-2
(`synthesis`: Synthesizer, load_synthesizer), its edits drawn as the paper's Fig. 3 / Fig. 5
(`figures`) and restoring a net from a `--checkpoint` (`restore`). A new generator family goes
here, beside `cargs`.

May import: lac_gan.data, lac_gan.common.
"""
