"""Stage 3, training: the configuration (`config`), the checkpoint format (`checkpoint`),
the training pairs (`pairs`), the losses and fitted scales of each architecture
(`objectives`), the drag calibration (`calibration`), the loop (`loop`) and the export to
model.pt (`export`). `python -m ogn_lammps.train` is its command line (`__main__`).

Nothing is imported here, so that `ogn_lammps.train.checkpoint` loads without the trainer.
"""
