"""The read model's migrations, `NNNN_name.sql`, applied in order by `..migrations`.

Each file is run in one transaction with `{schema}` replaced by the quoted target schema; a
file once applied must never change (its SHA-256 is recorded): write a new one instead.
"""
