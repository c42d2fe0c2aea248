"""moto and botocore, corrected and sped up: the one door to their internals.

The bench runs on moto, an in-process mock of AWS. Where moto differs from SQS as AWS documents
it, :mod:`.fixes` corrects it; :mod:`.speed` makes the same SQS cost less per call. Both patch
moto's and botocore's classes, so they hold only for the versions they were written for. No
module outside this folder reaches into moto's or botocore's internals (a test reads the source
to keep it so).
"""
