"""Depth processing: filters, background removal, CPU deprojection (the GPU path's reference)."""
