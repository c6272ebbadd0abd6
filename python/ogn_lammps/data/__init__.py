"""Stage 1, the data: LAMMPS's own files (`lammps_files`), the dataset built from them
(`dataset`), the system registry (`systems`), the ground truth's checks
(`check_ground_truth`) and the unit constants of LAMMPS's unit styles (`units`)."""
