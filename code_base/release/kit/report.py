# %% [markdown]
# # Assignment 2 — Building CNNs: report
#
# **Author:** YOUR NAME (YOUR STUDENT ID, e.g. e0123456g)
#
# One to two pages. Export it as `report.pdf` in the kit's folder
# (File > Save and Export Notebook As > PDF), where `make pack` looks for it.
#
# ## Results
#
# Your best network's test accuracy, its architecture and hyper-parameters, and its training
# curves (loss, training and validation accuracy).
#
# ## What you tried
#
# The choices you compared and what they did to the validation accuracy.
#
# ## What you learnt
#
# About the layers you wrote: what was hard, what the checks caught.
