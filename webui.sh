#!/usr/bin/env bash
###############################################################################
# Starts the web UI: finds (or clones) the checkout, creates the virtual      #
# environment on the first run and runs launch.py, again whenever the UI      #
# asks for a restart. Change settings in webui-user.sh, not here.             #
###############################################################################

SCRIPT_DIR="$( cd -- "$( dirname -- "${BASH_SOURCE[0]}" )" &> /dev/null && pwd )"

if [[ -f "$SCRIPT_DIR"/webui-user.sh ]]
then
    # shellcheck source=webui-user.sh
    source "$SCRIPT_DIR"/webui-user.sh
fi

delimiter="################################################################"

error() {
    printf "\n%s\n\e[1m\e[31mERROR: %s\e[0m\n%s\n" "${delimiter}" "$1" "${delimiter}" >&2
}

# -f among the arguments allows running as root (launch.py ignores it)
can_run_as_root=0
for arg in "$@"
do
    if [[ "$arg" == "-f" ]]; then can_run_as_root=1; fi
done

# "-" as venv_dir: use the current python, no virtual environment
use_venv=1
if [[ "${venv_dir}" == "-" ]]; then use_venv=0; fi

if [[ -z "${install_dir}" ]]; then install_dir="$SCRIPT_DIR"; fi
if [[ -z "${clone_dir}" ]]; then clone_dir="stable-diffusion-webui"; fi
if [[ -z "${clone_url}" ]]; then clone_url="https://github.com/AUTOMATIC1111/stable-diffusion-webui.git"; fi
if [[ -z "${venv_dir}" ]] && [[ $use_venv -eq 1 ]]; then venv_dir="venv"; fi
if [[ -z "${LAUNCH_SCRIPT}" ]]; then LAUNCH_SCRIPT="launch.py"; fi

if [[ -z "${python_cmd}" ]]
then
    for candidate in python3.11 python3.10 python3
    do
        if command -v "$candidate" &> /dev/null; then python_cmd="$candidate"; break; fi
    done
    python_cmd="${python_cmd:-python3}"
fi

if [[ -z "${GIT}" ]]
then
    export GIT="git"
else
    export GIT_PYTHON_GIT_EXECUTABLE="${GIT}"
fi

# keep pip from reinstalling packages the system already has (Debian/Ubuntu)
export PIP_IGNORE_INSTALLED=0

# the script is inside a checkout (or an unpacked copy): use it
if [[ -d "$SCRIPT_DIR/.git" || -f "$SCRIPT_DIR/launch.py" || -f "$SCRIPT_DIR/$LAUNCH_SCRIPT" ]]
then
    install_dir="$(dirname -- "$SCRIPT_DIR")"
    clone_dir="$(basename -- "$SCRIPT_DIR")"
fi

printf "\n%s\n" "${delimiter}"
printf "\e[1m\e[32mStable Diffusion web UI launcher\e[0m\n"
printf "Runs on Linux and macOS with Python 3.10 to 3.13.\n"
printf "%s\n" "${delimiter}"

if [[ $(id -u) -eq 0 && can_run_as_root -eq 0 ]]
then
    error "This script must not be launched as root, aborting... (add -f to the arguments to run as root anyway)"
    exit 1
fi
printf "\nRunning as user \e[1m\e[32m%s\e[0m\n" "$(whoami)"

if [[ $(getconf LONG_BIT 2>/dev/null) == 32 ]]
then
    error "A 32-bit operating system is not supported"
    exit 1
fi

# GPU sniffing: AMD cards without NVIDIA get a ROCm build of torch
gpu_info=$(lspci 2>/dev/null | grep -E "VGA|Display|3D")
case "$gpu_info" in
    *"Navi 1"*|*"Navi 2"*) export HSA_OVERRIDE_GFX_VERSION=10.3.0 ;;
    *"Renoir"*) export HSA_OVERRIDE_GFX_VERSION=9.0.0 ;;
    *) ;;
esac
if ! echo "$gpu_info" | grep -q "NVIDIA" && echo "$gpu_info" | grep -q "AMD" && [[ -z "${TORCH_COMMAND}" ]]
then
    export TORCH_COMMAND="pip install torch torchvision --index-url https://download.pytorch.org/whl/rocm6.4"
fi

if ! command -v "${python_cmd}" &> /dev/null
then
    error "${python_cmd} is not installed, aborting..."
    exit 1
fi
if [[ $use_venv -eq 1 ]] && ! "${python_cmd}" -c "import venv" &> /dev/null
then
    error "python venv is not installed (on Debian/Ubuntu: apt install python3-venv), aborting..."
    exit 1
fi

cd "${install_dir}" || { error "Can't cd to ${install_dir}, aborting..."; exit 1; }
if [[ -d "${clone_dir}" ]]
then
    cd "${clone_dir}" || { error "Can't cd to ${install_dir}/${clone_dir}, aborting..."; exit 1; }
else
    if ! command -v "${GIT}" &> /dev/null
    then
        error "git is not installed and there is no checkout in ${install_dir}/${clone_dir}, aborting..."
        exit 1
    fi
    printf "\n%s\nClone %s into %s/%s\n%s\n" "${delimiter}" "${clone_url}" "${install_dir}" "${clone_dir}" "${delimiter}"
    if ! GIT_TERMINAL_PROMPT=0 "${GIT}" clone "${clone_url}" "${clone_dir}"
    then
        rm -rf "${clone_dir}"
        error "Couldn't clone ${clone_url} (the network is needed to clone), aborting..."
        exit 1
    fi
    cd "${clone_dir}" || { error "Can't cd to ${install_dir}/${clone_dir}, aborting..."; exit 1; }
fi

if [[ $use_venv -eq 1 ]] && [[ -z "${VIRTUAL_ENV}" ]]
then
    if [[ ! -d "${venv_dir}" ]]
    then
        printf "\nCreate the python virtual environment %s\n" "${venv_dir}"
        # no "pip install --upgrade pip": the bundled pip works and an upgrade needs the network
        if ! "${python_cmd}" -m venv "${venv_dir}"
        then
            rm -rf "${venv_dir}"
            error "Couldn't create the virtual environment ${venv_dir}, aborting..."
            exit 1
        fi
    fi
    if [[ -f "${venv_dir}"/bin/activate ]]
    then
        # shellcheck disable=SC1091
        source "${venv_dir}"/bin/activate
        python_cmd="${venv_dir}/bin/python"
    else
        error "Cannot activate the python virtual environment ${venv_dir}, aborting..."
        exit 1
    fi
else
    printf "\nRunning without a new virtual environment (venv_dir is '-' or one is already active)\n"
fi

# tcmalloc lowers CPU memory use; preload it when the system has it
prepare_tcmalloc() {
    if [[ "${OSTYPE}" != "linux"* || -n "${NO_TCMALLOC}" || -n "${LD_PRELOAD}" ]]; then return; fi
    local lib
    lib="$(PATH=/sbin:/usr/sbin:$PATH ldconfig -p 2>/dev/null | grep -E 'libtcmalloc(_minimal)?\.so\.[0-9]+ ' | LC_ALL=C sort -r | awk '{print $NF}' | head -n 1)"
    if [[ -n "$lib" && -f "$lib" ]]
    then
        printf "Using TCMalloc: %s\n" "$lib"
        export LD_PRELOAD="$lib"
    else
        printf "Cannot locate TCMalloc (optional; install libgoogle-perftools4 or gperftools to lower CPU memory use)\n"
    fi
}

# the web UI writes tmp/restart before it exits to be started again
export SD_WEBUI_RESTART=tmp/restart
status=0
while true
do
    prepare_tcmalloc
    if [[ "${ACCELERATE}" == "True" ]] && command -v accelerate &> /dev/null
    then
        printf "\n%s\nAccelerating %s...\n%s\n" "${delimiter}" "${LAUNCH_SCRIPT}" "${delimiter}"
        accelerate launch --num_cpu_threads_per_process=6 "${LAUNCH_SCRIPT}" "$@"
    else
        printf "\n%s\nLaunching %s...\n%s\n" "${delimiter}" "${LAUNCH_SCRIPT}" "${delimiter}"
        "${python_cmd}" -u "${LAUNCH_SCRIPT}" "$@"
    fi
    status=$?
    if [[ ! -f tmp/restart ]]; then break; fi
    # remove it here too, so a launcher that skips its own clean-up cannot loop forever
    rm -f tmp/restart
    export SD_WEBUI_RESTARTING=1
done
exit $status
