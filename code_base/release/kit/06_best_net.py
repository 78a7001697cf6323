# %% [markdown]
# # Chapter 6 — Your best network
#
# Train the best three-layer network you can on CIFAR2 and report its test accuracy. Choose the
# number and size of the filters, the hidden layer, the regularisation, dropout, the update rule
# and the learning rate; use the validation set (not the test set) to choose.
#
# Write in the report what you tried, what worked and what did not, with the curves of your best
# run.

# %%
# %load_ext code_base.check.notebook
from code_base.classifiers.cnn import ThreeLayerConvNet
from code_base.data_utils import get_CIFAR2_data
from code_base.solver import Solver

data = get_CIFAR2_data()
for name, values in data.items():
    print(name, values.shape)

# %% [markdown]
# A start: a small network on a small part of the training set, to see the loss go down.
# Then make it yours.

# %%
# NEEDS: ThreeLayerConvNet.init_params, ThreeLayerConvNet.loss, conv_forward, conv_backward, max_pool_forward, max_pool_backward, im2col, col2im
model = ThreeLayerConvNet(num_filters=32, filter_size=7, hidden_dim=100, num_classes=2,
                          weight_scale=1e-3, reg=1e-3, seed=0)
small = {k: v[:500] if k.endswith("train") else v for k, v in data.items()}
solver = Solver(model, small, num_epochs=1, batch_size=50, update_rule="adam",
                optim_config={"learning_rate": 1e-3}, print_every=5, verbose=True)
solver.train()
