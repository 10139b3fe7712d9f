#!/bin/sh
# Generates configure and the Makefile.in files from a git checkout.
autoreconf -ivf
