"""The bundled rules on real attack logs (positive), the same logs with random names, and
real logs of ordinary machines (negative). Need ../shared/data."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow as pa
import pytest
from randomise import randomise

from ashiato.detect import sigma
from ashiato.detect.hunt import bundled_rules
from ashiato.formats import evtx
from ashiato.formats.testing import parse_file

EAS = "evtx-attack-samples"
DBC = "deepbluecli/evtx"

# (sample, rule title): each rule class on a public recording of the technique
POSITIVE = [
    (f"{EAS}/AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx",
     "Shadow Copy or Backup Deletion"),
    (f"{EAS}/AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx",
     "Event Log or Sysmon Service Stopped or Disabled From a Command Line"),
    (f"{EAS}/AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx",
     "Scheduled Task Created on Another Machine"),
    (f"{EAS}/Defense Evasion/DE_104_system_log_cleared.evtx", "Event Log Cleared"),
    (f"{EAS}/Defense Evasion/DE_1102_security_log_cleared.evtx", "Security Log Cleared"),
    (f"{DBC}/sliver-sysmon.evtx", "Event Log Clearing Command"),
    (f"{DBC}/disablestop-eventlog.evtx", "Event Log or Sysmon Service Disabled"),
    (f"{EAS}/AutomatedTestingTools/WinDefender_Events_1117_1116_AtomicRedTeam.evtx",
     "Defender Detected a Severe Threat"),
    (f"{EAS}/AutomatedTestingTools/WinDefender_Events_1117_1116_AtomicRedTeam.evtx",
     "Defender Detected a Hacking Tool"),
    (f"{EAS}/Credential Access/discovery_sysmon_1_iis_pwd_and_config_discovery_appcmd.evtx",
     "Encoded PowerShell Command"),
    (f"{DBC}/metasploit-psexec-powershell-target-system.evtx",
     "Hidden PowerShell Running Encoded or Downloaded Code"),
    (f"{DBC}/metasploit-psexec-powershell-target-system.evtx",
     "Service Installed With a Shell, Script or Temp-Folder Command"),
    (f"{EAS}/Lateral Movement/LM_Remote_Service02_7045.evtx",
     "Service Installed With a Shell, Script or Temp-Folder Command"),
    (f"{DBC}/powersploit-security.evtx", "PowerShell Download Cradle"),
    (f"{DBC}/Powershell-Invoke-Obfuscation-string-menu.evtx",
     "PowerShell Download and Execute in a Script Block"),
    (f"{EAS}/Other/emotet/exec_emotet_ps_800_new-object.evtx",
     "Windows PowerShell Pipeline Downloads From a URL"),
    (f"{EAS}/Execution/exec_persist_rundll32_mshta_scheduledtask_sysmon_1_3_11.evtx",
     "MSHTA Running Remote or Inline Script"),
    (f"{EAS}/Execution/exec_sysmon_lobin_regsvr32_sct.evtx",
     "Signed Binary Fetching or Running Remote Content"),
    (f"{EAS}/Execution/exec_wmic_xsl_internet_sysmon_3_1_11.evtx",
     "Signed Binary Fetching or Running Remote Content"),
    (f"{EAS}/Execution/exec_sysmon_1_11_lolbin_rundll32_openurl_FileProtocolHandler.evtx",
     "Signed Binary Proxy Execution Through a DLL Export"),
    (f"{EAS}/Execution/sysmon_mshta_sharpshooter_stageless_meterpreter.evtx",
     "Office Application or Browser Started a Shell"),
    (f"{EAS}/AutomatedTestingTools/panache_sysmon_vs_EDRTestingScript.evtx",
     "Script Host Running a Script From a User-Writable Folder or a URL"),
    (f"{EAS}/Lateral Movement/LM_wmiexec_impacket_sysmon_whoami.evtx",
     "WMI Provider Host Started a Shell"),
    (f"{EAS}/Lateral Movement/LM_Remote_Service01_5145_svcctl.evtx",
     "Remote Service or Task Scheduler Pipe Opened"),
    # UACME: consent.exe (22), COM elevation in dllhost (41), WSReset (56) start the shell
    (f"{EAS}/Privilege Escalation/Sysmon_UACME_22.evtx",
     "Shell Started With Full Rights by a Windows Component (UAC Bypass)"),
    (f"{EAS}/Privilege Escalation/Sysmon_UACME_41.evtx",
     "Shell Started With Full Rights by a Windows Component (UAC Bypass)"),
    (f"{EAS}/Privilege Escalation/Sysmon_UACME_56.evtx",
     "Shell Started With Full Rights by a Windows Component (UAC Bypass)"),
    (f"{EAS}/Privilege Escalation/4765_sidhistory_add_t1178.evtx",
     "SID History Added to an Account"),
    (f"{EAS}/Privilege Escalation/privesc_spoolsv_spl_file_write_sysmon11.evtx",
     "Print Spooler Writing a Program Outside Its Folders (PrintDemon, PrintNightmare)"),
    (f"{EAS}/Persistence/persistence_startup_UserShellStartup_Folder_Changed_sysmon_13.evtx",
     "Startup Folder Moved to Another Place"),
    (f"{EAS}/Persistence/sysmon_1_smss_child_proc_bootexecute_setupexecute.evtx",
     "Program Started by the Session Manager at Boot (BootExecute)"),
    (f"{EAS}/Persistence/persist_bitsadmin_Microsoft-Windows-Bits-Client-Operational.evtx",
     "BITS Job Copies a Local Program"),
    (f"{EAS}/Execution/exec_sysmon_1_lolbin_pcalua.evtx",
     "Program Started Through a Windows Utility That Runs Others (Indirect Execution)"),
    (f"{EAS}/Execution/sysmon_lolbin_bohops_vshadow_exec.evtx",
     "Program Started Through a Windows Utility That Runs Others (Indirect Execution)"),
    (f"{EAS}/Execution/susp_explorer_exec.evtx",
     "Script Host Told to Read a File of Another Type as Script (/E:)"),
    (f"{EAS}/Defense Evasion/DE_Fake_ComputerAccount_4720.evtx",
     "User Account Created With a Computer-Like Name (Ending in $)"),
    (f"{EAS}/Persistence/persistence_hidden_local_account_sysmon.evtx",
     "Hidden Local Account Created (Name Ending in $)"),
    (f"{EAS}/Persistence/Network_Service_Guest_added_to_admins_4732.evtx",
     "Built-In Service or Guest Account Added to Administrators"),
    (f"{EAS}/Credential Access/4794_DSRM_password_change_t1098.evtx",
     "Directory Services Restore Mode Password Set"),
    (f"{EAS}/Defense Evasion/DE_KernelDebug_and_TestSigning_ON_Security_4826.evtx",
     "Boot Configuration Allows Test-Signed Drivers or a Kernel Debugger"),
    (f"{EAS}/Defense Evasion/DE_EventLog_Service_Crashed.evtx", "Event Log Service Crashed"),
    (f"{EAS}/Lateral Movement/remote_file_copy_system_proc_file_write_sysmon_11.evtx",
     "Program or Script Written by the System Process (Copied Over SMB)"),
    (f"{EAS}/Lateral Movement/lateral_movement_startup_3_11.evtx",
     "Program or Script Dropped in a Startup Folder"),
    (f"{EAS}/Lateral Movement/LM_tsclient_startup_folder.evtx",
     "Program or Script Dropped in a Startup Folder"),
    (f"{EAS}/Lateral Movement/LM_4624_mimikatz_sekurlsa_pth_source_machine.evtx",
     "Logon With New Credentials (Pass-the-Hash or runas /netonly)"),
    (f"{EAS}/Lateral Movement/sharprdp_sysmon_7_mstscax.dll.evtx",
     "Remote Desktop Control Loaded by a Program Other Than an RDP Client"),
    (f"{EAS}/Lateral Movement/LM_add_new_namedpipe_tp_nullsession_registry_turla_like_ttp.evtx",
     "Pipe Opened to Anonymous Access (NullSessionPipes)"),
    (f"{EAS}/Lateral Movement/LM_NewShare_Added_Sysmon_12_13.evtx",
     "Network Share Added in the Registry"),
    (f"{EAS}/Lateral Movement/LM_regsvc_DirectoryServiceExtPt_Lsass_NTDS_AdamXpn.evtx",
     "Directory Service Extension DLL Registered (Code in LSASS)"),
    (f"{EAS}/Execution/temp_scheduled_task_4698_4699.evtx",
     "Scheduled Task Runs a Shell or a Program From a User-Writable Folder"),
    (f"{DBC}/smb-password-guessing-security.evtx",
     "Password Guessing Against One Account (Brute Force)"),
    (f"{DBC}/password-spray.evtx",
     "Explicit Credentials for Many Accounts (Spraying From This Host)"),
    (f"{EAS}/Credential Access/sysmon_10_lsass_mimikatz_sekurlsa_logonpasswords.evtx",
     "LSASS Memory Read by an Unusual Process"),
    (f"{EAS}/Credential Access/CA_hashdump_4663_4656_lsass_access.evtx",
     "LSASS Handle Requested With Read Access (Security Audit)"),
    (f"{EAS}/Credential Access/sysmon_10_1_memdump_comsvcs_minidump.evtx",
     "Credential Dumping Command or Tool"),
    (f"{EAS}/Credential Access/Powershell_4104_MiniDumpWriteDump_Lsass.evtx",
     "Credential Dumping in a PowerShell Script Block"),
    (f"{DBC}/wmi-event-filter-persistance.evtx",
     "WMI Permanent Subscription Runs a Command or Script"),
    (f"{EAS}/Defense Evasion/DE_Fake_ComputerAccount_4720.evtx", "User Account Created"),
    (f"{EAS}/Persistence/Network_Service_Guest_added_to_admins_4732.evtx",
     "Account Added to a Privileged Group"),
    (f"{EAS}/Defense Evasion/DE_renamed_psexec_service_sysmon_17_18.evtx",
     "Remote Execution Tool Pipe"),
    (f"{EAS}/Defense Evasion/DE_UAC_Disabled_Sysmon_12_13.evtx",
     "User Account Control Disabled in the Registry"),
    (f"{EAS}/Defense Evasion/DE_Powershell_CLM_Disabled_Sysmon_12.evtx",
     "PowerShell Constrained Language Mode Lifted"),
    (f"{EAS}/Credential Access/LsassSilentProcessExit_process_exit_monitor_3001_lsass.evtx",
     "LSASS Dumped Through Silent Process Exit"),
    (f"{EAS}/Defense Evasion/DE_xp_cmdshell_enabled_MSSQL_EID_15457.evtx",
     "SQL Server xp_cmdshell Enabled"),
    (f"{EAS}/Credential Access/discovery_sysmon_1_iis_pwd_and_config_discovery_appcmd.evtx",
     "Web Server Process Started a Shell"),
    (f"{EAS}/AutomatedTestingTools/Malware/rundll32_cmd_schtask.evtx",
     "Signed Binary Proxy Started a Shell"),
    (f"{EAS}/Command and Control/DE_RDP_Tunneling_4624.evtx",
     "Remote Desktop Logon Through a Local Tunnel"),
    (f"{EAS}/Command and Control/DE_sysmon-3-rdp-tun.evtx", "RDP Port Forwarded Through a Tunnel"),
    (f"{EAS}/Command and Control/DE_sysmon-3-rdp-tun.evtx",
     "Program Connected to RDP on a Loopback Address"),
    (f"{EAS}/Credential Access/CA_DCSync_4662.evtx",
     "Directory Replication Requested by a User Account (DCSync)"),
    (f"{EAS}/Credential Access/dc_applog_ntdsutil_dfir_325_326_327.evtx",
     "Active Directory Database Copied (NTDS.dit)"),
    (f"{EAS}/Credential Access/CA_Mimikatz_Memssp_Default_Logs_Sysmon_11.evtx",
     "Mimikatz Security Support Provider Log Written"),
    (f"{EAS}/Credential Access/MSSQL_multiple_failed_logon_EventID_18456.evtx",
     "Password Guessing Against SQL Server"),
    (f"{EAS}/Lateral Movement/sysmon_1_exec_via_sql_xpcmdshell.evtx", "SQL Server Started a Shell"),
    (f"{EAS}/Lateral Movement/LM_impacket_docmexec_mmc_sysmon_01.evtx",
     "Command Output Sent to an Administrative Share"),
    (f"{EAS}/Lateral Movement/LM_impacket_docmexec_mmc_sysmon_01.evtx",
     "DCOM Server Started a Shell or Script"),
    (f"{EAS}/Lateral Movement/LM_DCOM_MSHTA_LethalHTA_Sysmon_3_1.evtx",
     "DCOM Server Started a Shell or Script"),
    (f"{EAS}/Lateral Movement/LM_winrm_exec_sysmon_1_winrshost.evtx",
     "Command Run Through Windows Remote Management"),
    (f"{EAS}/Defense Evasion/de_PsScriptBlockLogging_disabled_sysmon12_13.evtx",
     "PowerShell or Command-Line Logging Turned Off in the Registry"),
    (f"{EAS}/Defense Evasion/de_portforward_netsh_rdp_sysmon_13_1.evtx",
     "Port Forwarding Set With netsh portproxy"),
    (f"{EAS}/Defense Evasion/de_portforward_netsh_rdp_sysmon_13_1.evtx",
     "Port Forwarding Rule Written to the Registry"),
    (f"{EAS}/Defense Evasion/sysmon_13_rdp_settings_tampering.evtx",
     "Remote Desktop Enabled or Its Service Replaced in the Registry"),
    (f"{EAS}/Defense Evasion/meterpreter_migrate_to_explorer_sysmon_8.evtx",
     "Thread Injected by a Script Host or a Program From an Unusual Folder"),
    (f"{EAS}/Execution/evasion_execution_imageload_wuauclt_lolbas.evtx",
     "Shell Started by a Program That Never Starts One"),
    (f"{EAS}/Execution/Exec_sysmon_meterpreter_reversetcp_msipackage.evtx",
     "Shell Started by a Program That Never Starts One"),
    (f"{EAS}/Execution/exec_sysmon_1_lolbin_renamed_regsvr32_scrobj.evtx",
     "Signed Binary Fetching or Running Remote Content"),
    (f"{EAS}/Other/emotet/exec_emotet_ps_4104.evtx",
     "Obfuscated Script Block Downloads From a URL"),
    (f"{EAS}/Lateral Movement/MSSQL_15281_xp_cmdshell_exec_failed_attempt.evtx",
     "SQL Server Blocked a Call to xp_cmdshell"),
    (f"{EAS}/Persistence/evasion_persis_hidden_run_keyvalue_sysmon_13.evtx",
     "Run Key or Winlogon Value Starts a Script or a Program From an Unusual Folder"),
    (f"{EAS}/Persistence/sysmon_13_1_persistence_via_winlogon_shell.evtx",
     "Run Key or Winlogon Value Starts a Script or a Program From an Unusual Folder"),
    (f"{EAS}/Persistence/persistence_SilentProcessExit_ImageHijack_sysmon_13_1.evtx",
     "Program Hijacked Through Image File Execution Options"),
    (f"{EAS}/Persistence/persistence_accessibility_features_osk_sysmon1.evtx",
     "Accessibility Program Started a Shell"),
    (f"{EAS}/Persistence/wmighost_sysmon_20_21_1.evtx",
     "WMI Event Consumer Runs a Command or Script (Sysmon)"),
    (f"{EAS}/Privilege Escalation/Sysmon_13_1_UAC_Bypass_EventVwrBypass.evtx",
     "UAC Bypass Through a Hijacked Auto-Elevating Handler"),
    (f"{EAS}/Privilege Escalation/sysmon_1_13_UACBypass_AppPath_Control.evtx",
     "UAC Bypass Through a Hijacked Auto-Elevating Handler"),
    (f"{EAS}/Privilege Escalation/privesc_seimpersonate_tosys_spoolsv_sysmon_17_18.evtx",
     "Named Pipe Impersonation to SYSTEM (Potato, PrintSpoofer)"),
    (f"{EAS}/Privilege Escalation/privesc_roguepotato_sysmon_17_18.evtx",
     "Named Pipe Impersonation to SYSTEM (Potato, PrintSpoofer)"),
    (f"{EAS}/Privilege Escalation/sysmon_13_1_meterpreter_getsystem_NamedPipeImpersonation.evtx",
     "Service Echoing Into a Named Pipe (getsystem)"),
    # UAC bypass by DLL hijack: wusa extracts a DLL beside an auto-elevating program
    (f"{EAS}/Privilege Escalation/sysmon_1_7_11_migwiz.evtx",
     "Cabinet Extracted Into a Windows Folder With wusa (UAC Bypass)"),
    (f"{EAS}/Privilege Escalation/sysmon_11_1_15_WScriptBypassUAC.evtx",
     "Cabinet Extracted Into a Windows Folder With wusa (UAC Bypass)"),
    (f"{EAS}/Privilege Escalation/sysmon_1_7_11_sysprep_uacbypass.evtx",
     "Unsigned DLL Loaded by a Windows Program From the Windows Folder (DLL Hijack)"),
    (f"{EAS}/Privilege Escalation/sysmon_11_1_7_uacbypass_cliconfg.evtx",
     "Unsigned DLL Loaded by a Windows Program From the Windows Folder (DLL Hijack)"),
    (f"{EAS}/Privilege Escalation/sysmon_1_7_11_mcx2prov_uacbypass.evtx",
     "Unsigned DLL Loaded by a Windows Program From the Windows Folder (DLL Hijack)"),
    (f"{EAS}/Privilege Escalation/sysmon_11_7_1_uacbypass_windirectory_mocking.evtx",
     "Unsigned DLL Loaded by a Windows Program From the Windows Folder (DLL Hijack)"),
    (f"{EAS}/Privilege Escalation/sysmon_11_7_1_uacbypass_windirectory_mocking.evtx",
     "Folder Named Like the Windows Folder With a Trailing Space"),
    (f"{EAS}/Privilege Escalation/sysmon_11_7_1_uacbypass_windirectory_mocking.evtx",
     "Program Started From a Folder Named Like the Windows Folder With a Trailing Space"),
    (f"{EAS}/Privilege Escalation/sysmon_13_1_12_11_perfmonUACBypass.evtx",
     "UAC Bypass Through a Hijacked Auto-Elevating Handler"),
    (f"{EAS}/Defense Evasion/Sysmon 7 dllhijack_cdpsshims_CDPSvc.evtx",
     "Service Host Loaded an Unsigned DLL From Outside Windows"),
    (f"{EAS}/Defense Evasion/Sysmon_10_Evasion_Suspicious_NtOpenProcess_CallTrace.evtx",
     "Process Opened for Writing by Code Outside Any Loaded Module (Injected Code)"),
    (f"{EAS}/Defense Evasion/de_powershell_execpolicy_changed_sysmon_13.evtx",
     "PowerShell Execution Policy Lifted in the Registry"),
    (f"{EAS}/Defense Evasion/de_sysmon_13_VBA_Security_AccessVBOM.evtx",
     "Office Macros Given Access to the VBA Project Object Model"),
    (f"{EAS}/Defense Evasion/de_hiding_files_via_attrib_cmdlet.evtx", "Files Hidden With attrib"),
    (f"{EAS}/Privilege Escalation/win10_4703_SeDebugPrivilege_enabled.evtx",
     "Debug Privilege Enabled by a Program Outside Windows and Program Files"),
    (f"{EAS}/Persistence/persist_turla_outlook_backdoor_comhijack.evtx",
     "COM Object Hijacked in a User's Registry"),
    (f"{EAS}/Persistence/persist_firefox_comhijack_sysmon_11_13_7_1.evtx",
     "COM Object Hijacked in a User's Registry"),
    (f"{EAS}/Persistence/persistence_sysmon_11_13_1_shime_appfix.evtx",
     "Application Shim Database Installed"),
    (f"{EAS}/Persistence/persistence_sysmon_11_13_1_shime_appfix.evtx",
     "Application Shim Database Registered in the Registry"),
    (f"{EAS}/Defense Evasion/evasion_codeinj_odzhan_conhost_sysmon_10_1.evtx",
     "Process Opened for Writing by Code Outside Any Loaded Module (Injected Code)"),
    (f"{EAS}/Privilege Escalation/privesc_rotten_potato_from_webshell_metasploit_sysmon_1_8_3.evtx",
     "Thread Started in Another Process at an Address No Module Backs"),
    (f"{EAS}/Credential Access/CA_teamviewer-dumper_sysmon_10.evtx",
     "Program in a User-Writable Folder Opened Another Process to Start a Thread in It"),
    (f"{EAS}/Privilege Escalation/PrivEsc_Imperson_NetSvc_to_Sys_Decoder_Sysmon_1_17_18.evtx",
     "Shell Started as SYSTEM by a Program in a User's Folder (Token Impersonation)"),
    (f"{EAS}/Privilege Escalation/RogueWinRM.evtx",
     "Shell Started as SYSTEM by a Program in a User's Folder (Token Impersonation)"),
    (f"{EAS}/Privilege Escalation/privesc_unquoted_svc_sysmon_1_11.evtx",
     "Service Started a Program From a Truncated Unquoted Path"),
    (f"{EAS}/Persistence/persist_valid_account_guest_rid_hijack.evtx",
     "Account Record in the SAM Written by a Program Other Than LSASS (RID Hijack)"),
    (f"{EAS}/Persistence/persistence_pendingGPO_sysmon_13.evtx",
     "Internet Explorer Pending Group Policy Runs an INF at Logon"),
    (f"{EAS}/Credential Access/phish_windows_credentials_powershell_scriptblockLog_4104.evtx",
     "PowerShell Credential Prompt That Checks the Typed Password (Credential Phishing)"),
    (f"{EAS}/Other/emotet/exec_emotet_sysmon_1.evtx",
     "Windows Program Run From Outside the Windows Folder"),
    (f"{EAS}/Execution/sysmon_zipexec.evtx", "Windows Program Run From Outside the Windows Folder"),
    (f"{EAS}/AutomatedTestingTools/Malware/rundll32_hollowing_wermgr_masquerading.evtx",
     "Windows Program Started Without Arguments by rundll32 or regsvr32 (Process Hollowing)"),
    (f"{EAS}/Other/maldoc_mshta_via_shellbrowserwind_rundll32.evtx",
     "Rundll32 Loading a File That Is Not a DLL"),
    (f"{EAS}/Execution/exec_persist_rundll32_mshta_scheduledtask_sysmon_1_3_11.evtx",
     "Rundll32 Loading a File That Is Not a DLL"),
    (f"{EAS}/AutomatedTestingTools/Malware/DE_timestomp_and_dll_sideloading_and_RunPersist.evtx",
     "Autostart Value Runs a Program Named Like a Windows System Process From Elsewhere"),
    (f"{EAS}/Defense Evasion/Win_4985_T1186_Process_Doppelganging.evtx",
     "Transaction Used by a Program in a User-Writable Folder (Process Doppelganging)"),
    (f"{EAS}/Execution/revshell_cmd_svchost_sysmon_1.evtx",
     "Shell Started by a Windows Service Host Group That Never Starts One"),
    (f"{EAS}/Privilege Escalation/Sysmon_UACME_32.evtx",
     "Auto-Elevating Windows Tool Started With Full Rights by a Program in a User Folder"),
    (f"{EAS}/Privilege Escalation/Sysmon_UACME_54.evtx",
     "Auto-Elevating Windows Tool Started With Full Rights by a Program in a User Folder"),
    # Invoke-Obfuscation's character-code encoding, decoded at ingest
    (f"{DBC}/Powershell-Invoke-Obfuscation-encoding-menu.evtx",
     "PowerShell Download and Execute in a Script Block"),
    (f"{DBC}/Powershell-Invoke-Obfuscation-encoding-menu.evtx",
     "Credential Dumping in a PowerShell Script Block"),
]  # fmt: skip

# ordinary machines: developer PCs, a domain controller being promoted, Office crashes
BENIGN = [
    "evtx-parser-testfiles/omerbenamram-evtx/samples/security.evtx",
    "evtx-parser-testfiles/omerbenamram-evtx/samples/sysmon.evtx",
    "evtx-parser-testfiles/omerbenamram-evtx/samples/Application_no_crc32.evtx",
    "plaso-testdata/test_data/evtx/System.evtx",
    f"{DBC}/many-events-application.evtx",
    "evtx-parser-testfiles/omerbenamram-evtx/samples/"
    "2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx",
]


@cache
def _rules() -> tuple[Any, ...]:
    rules, problems = sigma.load([bundled_rules()])
    assert not problems
    return tuple(rules)


def _hunt(table: pa.Table, min_level: str = "low") -> list[sigma.Detection]:
    con = duckdb.connect()
    con.register("_t", table)
    con.execute("CREATE TABLE events AS SELECT * FROM _t")
    res = sigma.hunt(ibis.duckdb.from_connection(con).table("events"), list(_rules()), min_level)
    con.close()
    assert not res.problems, res.problems
    return res.detections


@cache
def _parsed(path: Path) -> pa.Table:
    table, _ = parse_file(evtx.FORMAT, path)
    return table


@pytest.mark.corpus
@pytest.mark.parametrize(("sample", "title"), POSITIVE)
def test_rule_fires_on_real_sample(shared: Path, sample: str, title: str) -> None:
    table = _parsed(shared / sample)
    hits = [d for d in _hunt(table) if d.rule.title == title]
    assert hits, f"{title} did not fire on {sample}"
    assert all(d.rule.tags for d in hits)  # ATT&CK tags travel with every hit
    rand, mapping = randomise(table)
    assert mapping, "nothing to randomise"
    again = [d for d in _hunt(rand) if d.rule.title == title]
    assert again, f"{title} needs the sample's own names ({sorted(mapping)[:5]})"
    original_hosts = {str(d.event.get("host.name")) for d in hits}
    new_hosts = {str(d.event.get("host.name")) for d in again}
    assert not (original_hosts - {"None"}) & new_hosts  # names really were replaced


# the one exception: a user ran Procmon.exe straight out of an opened ZIP (Temp1_*.zip),
# which is exactly what a mail-attachment payload looks like; no name tells them apart
EXPECTED = {
    "evtx-parser-testfiles/omerbenamram-evtx/samples/sysmon.evtx": [
        "Program Run From a Browser Cache, Opened Archive or Browser Temp Folder"
    ],
}


@pytest.mark.corpus
@pytest.mark.parametrize("sample", BENIGN)
def test_ordinary_machine_stays_below_medium(shared: Path, sample: str) -> None:
    hits = _hunt(_parsed(shared / sample), "medium")
    assert sorted({d.rule.title for d in hits}) == EXPECTED.get(sample, [])


OTRF = "otrf-security-datasets/atomic/windows"


@pytest.mark.corpus
def test_whole_host_captures_find_the_attack_not_the_agents(shared: Path, tmp_path: Path) -> None:
    """OTRF captures: the attack fires; the monitoring and cloud agents reading lsass and the
    other background noise of those hosts don't."""
    from ashiato.case import Case
    from ashiato.ingest import Options, ingest

    expect = {
        f"{OTRF}/lateral_movement/host/schtask_create.zip": {
            "Scheduled Task Created on Another Machine",
            "Scheduled Task Runs a Shell or a Program From a User-Writable Folder",
        },
        f"{OTRF}/credential_access/host/empire_mimikatz_logonpasswords.zip": {
            "LSASS Handle Requested With Read Access (Security Audit)",
            "LSASS Memory Read by an Unusual Process",
            # the Empire launcher, seen only in Windows PowerShell 400's rendered message
            "Encoded PowerShell Command",
            "Hidden PowerShell Running Encoded or Downloaded Code",
            "PowerShell Download Cradle",
        },
        f"{OTRF}/other/aptsimulator_cobaltstrike.zip": {
            "Service Installed With a Shell, Script or Temp-Folder Command",
            # Cobalt Strike's psexec: C:\Windows\b6a1458f396.exe arrives over ADMIN$
            "Program or Script Written by the System Process (Copied Over SMB)",
        },
        f"{OTRF}/defense_evasion/host/cmd_wevtutil_modify_security_eventlog_path.zip": {
            "Event Log Moved, Restricted or Switched Off With wevtutil",
        },
        # Raccine in simulation mode logged the encoded PowerShell it would have stopped
        f"{OTRF}/other/raccine_simulation_mode.zip": {
            "Anti-Ransomware Tool Blocked a Command (Raccine)",
        },
    }
    for n, (sample, titles) in enumerate(expect.items()):
        case = Case.create_or_open(tmp_path / f"c{n}", tz="UTC")
        ingest(case, [shared / sample], Options(tz="UTC"))
        with case.writer() as con:
            events = ibis.duckdb.from_connection(con).table("events")
            res = sigma.hunt(events, list(_rules()), "medium")
        assert {d.rule.title for d in res.detections} == titles, sample
