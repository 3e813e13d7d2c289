package script

// The vendor's documented example scripts, in their corrected, working form
// (the printed versions lost closing braces, and the role example used
// memberof without declaring it). Tests, the demo and the benchmark use
// them; administrators can start from them.
const (
	// ExampleActiveDisabled deactivates users whose Active Directory account is disabled
	// (bit 0x2 of userAccountControl).
	ExampleActiveDisabled = `function(entry) {
  return !(entry.userAccountControl & 0x2);
}`

	// ExampleActiveEmployeeType deactivates users whose employeeType is "inactive".
	ExampleActiveEmployeeType = `function(entry) { return entry.employeeType !="inactive" }`

	// ExampleOrgNameByOU places users by the OU in their DN: Staff, Students, or Default.
	ExampleOrgNameByOU = `function(entry) {
   var ou = entry.dn;
   if (ou != null){
       if ((ou.indexOf("Staff") >= 0 )){
           return 'Staff';
       }
       else if ((ou.indexOf("Students") >= 0 )){
           return 'Students';
       }
       else {
           return 'Default';
       }
   }
   else {
       return 'Default';
   }
}`

	// ExampleRolesByGroup grants org-level roles from memberOf: Org Security Viewer,
	// Org Help Desk, Org Manager and Org Admin for the groups Security, Support,
	// Managers and OrgAdmins, on top of Desktop User and PROe User.
	ExampleRolesByGroup = `function (entry) {
    // Default user roles
    var myRoles = new Array("PROe User", "Desktop User");
    var memberof = entry.memberOf;
    if (memberof == null) {
        return myRoles;
    }
    // Loop over LDAP groups
    for (var x = 0; x < memberof.length; ++x) {
        var group = memberof[x].toLowerCase();
        if (group.indexOf("cn=security") > -1) {
            myRoles.push("Org Security Viewer");
        }
        if (group.indexOf("cn=support") > -1) {
            myRoles.push("Org Help Desk");
        }
        if (group.indexOf("cn=managers") > -1) {
            myRoles.push("Org Manager");
        }
        if (group.indexOf("cn=orgadmins") > -1) {
            myRoles.push("Org Admin");
        }
    }
    return myRoles;
}`

	// ExampleRolesServerWide is the vendor's server-wide example: Server Administrator
	// for WorkstationAdmins, SYSADMIN for other Admins groups (checked in that
	// order, since "WorkstationAdmins" contains "Admins"), All Org Admin for
	// Support and All Org Manager for Managers.
	ExampleRolesServerWide = `function (entry) {
    // Default user roles
    var myRoles=new Array("PROe User","Desktop User");
    if (entry.memberOf == null) {
        return myRoles;
    }
    var memberof = entry.memberOf;
    // Loop over LDAP groups
    for (var x = 0; x < memberof.length; ++x) {
        if (memberof[x].indexOf("WorkstationAdmins") > -1) {
            myRoles.push("Server Administrator");
        } else if (memberof[x].indexOf("Admins") > -1) {
            myRoles.push("SYSADMIN");
        }
        if (memberof[x].indexOf("Support") > -1) {
            myRoles.push("All Org Admin");
        }
        if (memberof[x].indexOf("Managers") > -1) {
            myRoles.push("All Org Manager");
        }
    }
    return myRoles;
}`
)
