"""REO-Instruct: dialogues about AGBD patches for training and evaluating REO-VLM.

``templates`` (100+ question/answer templates), ``dialogues`` (the four task families of one patch),
``sampling`` (land-cover-balanced resampling), ``store`` (patch shards) and ``build`` (the whole
build, also ``python -m reo_core.build_instruct``).
"""
