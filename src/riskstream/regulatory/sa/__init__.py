"""The FRTB standardised approach (Basel MAR20-23): sensitivities, SBM, DRC and RRAO."""
