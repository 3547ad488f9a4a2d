#!/bin/bash
###############################################################################
# Settings for webui.sh. Uncomment a line and change its value to use it.     #
# This file is sourced by webui.sh; keep it to variable assignments.          #
###############################################################################

# Folder that holds the checkout (no trailing slash); used only when webui.sh
# is run outside a checkout and has to clone one
#install_dir="/home/$(whoami)"

# Name of the checkout folder inside install_dir
#clone_dir="stable-diffusion-webui"

# Where to clone from when there is no checkout yet
#clone_url="https://github.com/AUTOMATIC1111/stable-diffusion-webui.git"

# Command-line flags for the web UI, e.g. export COMMANDLINE_ARGS="--medvram --api"
#export COMMANDLINE_ARGS=""

# Python executable (default: python3.11, else python3.10, else python3)
#python_cmd="python3"

# git executable
#export GIT="git"

# Virtual environment folder, relative to the checkout (default: venv);
# "-" runs without a virtual environment
#venv_dir="venv"

# Script that webui.sh starts
#export LAUNCH_SCRIPT="launch.py"

# Command that installs torch (run as "python -m <command>")
#export TORCH_COMMAND="pip install torch==2.14.1 torchvision==0.29.1"

# Requirements file checked at every start
#export REQS_FILE="requirements_versions.txt"

# Start through "accelerate launch" (needs the accelerate package)
#export ACCELERATE="True"

# Do not preload tcmalloc (set to any value)
#export NO_TCMALLOC="True"

###############################################################################
